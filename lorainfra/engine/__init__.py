"""Engine: refresh, plan, apply; sees only the Provider, StateBackend and EventSink protocols."""
