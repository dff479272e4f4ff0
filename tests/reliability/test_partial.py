"""Partial failure: one deployment ends FAILED; only its dependents are skipped; state and next plan are exact."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.kit import Served, cli, duplicates, live, make_config, read_state


def test_one_failed_deployment_skips_only_its_loras(tmp_path: Path) -> None:
    folder = str(make_config(tmp_path / "cfg"))
    db = tmp_path / "emu.db"
    with Served(db, "--ready-after", "0.1", "--deployed-after", "0.1", "--fail-pattern", "^shared-base$") as emu:
        ep = ["--endpoint", emu.url]
        run = cli("apply", folder, *ep, "--auto-approve")
        assert run.code == 1, run.out + run.err
        out = run.out
        assert "Apply failed! Resources: 2 done, 1 failed, 2 skipped." in out
        failed = [x for x in out.splitlines() if x.startswith("Failed:")]
        assert len(failed) == 1
        assert failed[0].startswith("Failed: deployment.shared-base (create): accounts/quickstart/deployments/shared-base is FAILED")
        assert "deployment failed to become ready" in failed[0]  # the server's reason
        assert failed[0].endswith(f"(declared at {folder}/deployments.yaml:4:3)")  # where to look, as typed
        skipped = sorted(x for x in out.splitlines() if x.startswith("Skipped:"))
        assert skipped == [
            "Skipped: lora.faq-bot (create): depends on deployment.shared-base, which failed",
            "Skipped: lora.support-bot (create): depends on deployment.shared-base, which failed",
        ]
        # unrelated branches finished
        assert "deployment.sql-helper: create complete" in out and "lora.summarizer: create complete" in out

        # the state records exactly what exists (the FAILED deployment exists, so it is recorded)
        objs = live(db)
        assert duplicates(objs) == {}
        state = read_state(tmp_path / "cfg")
        assert {r["remote_name"] for r in state["resources"].values()} == {o["name"] for o in objs}
        assert set(state["resources"]) == {"deployment.shared-base", "deployment.sql-helper", "lora.summarizer"}
        assert state["pending"] == {}
        assert {o["name"]: o["state"] for o in objs if o["kind"] == "deployment"} == {
            "accounts/quickstart/deployments/shared-base": "FAILED",
            "accounts/quickstart/deployments/sql-helper": "READY",
        }

        # the next plan shows only what is left: replace the failed deployment, create its two LoRAs
        plan = cli("plan", folder, *ep, "--detailed-exitcode")
        assert plan.code == 2, plan.out + plan.err
        assert "Plan: 3 to add, 0 to change, 1 to destroy." in plan.out
        assert "deployment.shared-base must be replaced" in plan.out
        assert '+ lora "faq-bot"' in plan.out and '+ lora "support-bot"' in plan.out
        assert "sql-helper" not in plan.out and "summarizer" not in plan.out
