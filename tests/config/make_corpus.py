"""Broken-config corpus: each case is a config folder that must fail with the expected diagnostics.

Run ``python tests/config/make_corpus.py`` to (re)write ``tests/config/broken/<case>/`` from CASES
(the files plus ``expected.txt``, one expected substring of the rendered ConfigError per line) and
the golden ``diagnostics.txt`` beside it: every diagnostic exactly as rendered, which the tests compare
whole. Review the golden diff before committing it. Cases too big or too binary to commit (DYNAMIC)
are written at test time by ``write_dynamic``; their goldens are ``tests/config/broken-dynamic/<case>.txt``.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lorainfra.config.environments import Selection

HERE = Path(__file__).resolve().parent
BROKEN = HERE / "broken"
DYNAMIC_GOLDEN = HERE / "broken-dynamic"
GOLDEN = "diagnostics.txt"
BASE = "accounts/fireworks/models/llama-v3p1-8b-instruct"
MAIN = "provider:\n  account: quickstart\n  endpoint: local\n"
# deployments.yaml: a valid multi-LoRA deployment on lines 1-5; dep(...) adds lines from line 6 on
DEP = f"deployments:\n  base:\n    base_model: {BASE}\n    shape: default\n    addons: true\n"
# /etc/shadow-like lines: YAML reads each as a key; they must never be quoted in an error
SHADOW = "root:$6$xyzSALT$HASHHASHHASH:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
SHAPELESS = f"deployments:\n  base:\n    base_model: {BASE}\n    addons: true\n"


def dep(*lines: str) -> dict[str, str]:
    return {"deployments.yaml": DEP + "".join(f"    {line}\n" for line in lines)}


def lora(*lines: str, name: str = "bot") -> dict[str, str]:
    """loras.yaml with one lora: its key on line 2, ``lines`` from line 3 on."""
    return {"deployments.yaml": DEP, "loras.yaml": f"loras:\n  {name}:\n" + "".join(f"    {ln}\n" for ln in lines)}


def main(text: str) -> dict[str, str]:
    return {"lorainfra.yaml": text}


# environments (issue 15): lorainfra.yaml with two environments and a typed variable; ENV_FILE names the
# environment a case runs in (a dotfile: never read as config)
ENV_FILE = ".env"
ENVS = ("provider:\n  endpoint: local\nvariables:\n  replicas: {type: integer, default: 1}\n"
        "  lora_version: {default: v1}\nenvironments:\n  staging:\n    account: acme-staging\n"
        "  prod:\n    account: acme\n    vars: {replicas: 2}\n")
LORA_V = "loras:\n  bot:\n    model: accounts/acme/models/bot-${var.lora_version}\n    deployment: base\n"


def env_case(env: str | None, files: dict[str, str], main_text: str = ENVS) -> dict[str, str]:
    """A case in environment ``env`` (None: none selected) with ``files`` beside the deployment."""
    return {"lorainfra.yaml": main_text, "deployments.yaml": DEP, **files, **({ENV_FILE: env} if env else {})}


def serverless(count: int) -> str:
    return "loras:\n" + "".join(f"  l{i:03d}:\n    model: accounts/a/models/m{i}\n    serverless: true\n" for i in range(count))


def attached(count: int) -> str:
    return "loras:\n" + "".join(f"  l{i:03d}:\n    model: accounts/a/models/m{i}\n    deployment: base\n" for i in range(count))


def laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def cycle(*pairs: tuple[str, str]) -> str:
    out = "deployments:\n"
    for name, target in pairs:
        out += f"  {name}:\n    base_model: {BASE}\n    shape: default\n    depends_on: [{target}]\n"
    return out


E = "error: "
# name -> (files, expected substrings). Files default to lorainfra.yaml = MAIN unless given.
CASES: dict[str, tuple[dict[str, str], list[str]]] = {
    # -- YAML syntax ---------------------------------------------------------------------------
    "yaml-mapping-values": ({"deployments.yaml": "deployments:\n  base: a: b\n"},
                            [f"deployments.yaml:2:10: {E}invalid YAML: mapping values are not allowed"]),
    "yaml-unclosed-flow": ({"deployments.yaml": "deployments:\n  base: {base_model: x\n"},
                           [f"deployments.yaml:3:1: {E}invalid YAML: did not find expected ',' or '}}'"]),
    "yaml-unclosed-quote": ({"deployments.yaml": "deployments:\n  base:\n    base_model: 'abc\n"},
                            [f"deployments.yaml:4:1: {E}invalid YAML: found unexpected end of stream"]),
    "yaml-bad-indent": ({"deployments.yaml": "deployments:\n  base:\n    base_model: x\n   shape: default\n"},
                        [f"deployments.yaml:4:4: {E}invalid YAML"]),
    "yaml-tab-indent": ({"deployments.yaml": "deployments:\n\tbase: {}\n"},
                        [f"deployments.yaml:2:1: {E}invalid YAML", "hint: YAML does not allow tabs"]),
    "yaml-undefined-alias": ({"deployments.yaml": "deployments:\n  base: *common\n"},
                             [f"deployments.yaml:2:9: {E}invalid YAML: found undefined alias 'common'"]),
    "yaml-duplicate-anchor": ({"deployments.yaml": "x: &a 1\ny: &a 2\n"}, [f"deployments.yaml:2:4: {E}invalid YAML"]),
    "yaml-two-documents": ({"deployments.yaml": "deployments: {}\n---\nloras: {}\n"},
                           [f"deployments.yaml:2:1: {E}invalid YAML: but found another document"]),
    "yaml-syntax-in-main": (main("provider:\n  account: [quickstart\n"), [f"lorainfra.yaml:3:1: {E}invalid YAML"]),
    "yaml-control-char": ({"deployments.yaml": "deployments:\n  base: \x07\n"},
                          [f"deployments.yaml:2:9: {E}invalid character '\\x07'"]),
    "yaml-list-then-map": ({"deployments.yaml": "- a\nb: c\n"}, [f"deployments.yaml:2:1: {E}invalid YAML"]),
    "yaml-stray-bracket": ({"deployments.yaml": "deployments: {}]\n"}, [f"deployments.yaml:1:16: {E}invalid YAML"]),
    "yaml-deep-nesting": ({"deployments.yaml": "deployments: " + "[" * 70 + "]" * 70 + "\n"},
                          [f"deployments.yaml:1:77: {E}YAML nesting is deeper than 64 levels"]),
    "yaml-deep-block-nesting": ({"deployments.yaml": "".join("  " * i + f"k{i}:\n" for i in range(80))},
                                [f"deployments.yaml:64:127: {E}YAML nesting is deeper than 64 levels"]),
    "yaml-billion-laughs": ({"deployments.yaml": laughs()},
                            [f"deployments.yaml:5:29: {E}too many YAML aliases/nodes", "billion laughs"]),
    "yaml-recursive-alias": ({"deployments.yaml": "deployments: &d\n  base: *d\n"},
                             [f"deployments.yaml:2:9: {E}recursive YAML alias *d"]),
    "yaml-bad-merge": ({"deployments.yaml": f"deployments:\n  base:\n    <<: 5\n    base_model: {BASE}\n    shape: default\n"},
                       [f"deployments.yaml:3:5: {E}a '<<' merge key needs a mapping"]),
    "yaml-complex-key": ({"deployments.yaml": "deployments:\n  ? [a, b]\n  : {}\n"},
                         [f"deployments.yaml:2:5: {E}mapping keys must be plain strings"]),
    "yaml-huge-int": (dep("max_context_length: " + "9" * 5000), [f"deployments.yaml:6:25: {E}'99999", "is not a valid !!int"]),
    # -- tags ------------------------------------------------------------------------------------
    "tag-python-object": ({"deployments.yaml": "deployments:\n  base: !!python/object:os.system {}\n"},
                          [f"deployments.yaml:2:9: {E}unsafe YAML tag !!python/object:os.system is not allowed"]),
    "tag-python-object-apply": ({"deployments.yaml": "deployments: !!python/object/apply:os.system ['id']\n"},
                                [f"deployments.yaml:1:14: {E}unsafe YAML tag !!python/object/apply:os.system"]),
    "tag-python-name": (dep("description: !!python/name:os.system ''"), [f"deployments.yaml:6:18: {E}unsafe YAML tag !!python/name:os.system"]),
    "tag-python-module": (dep("description: !!python/module:os ''"), [f"deployments.yaml:6:18: {E}unsafe YAML tag !!python/module:os"]),
    "tag-python-new": ({"deployments.yaml": "deployments: !!python/object/new:subprocess.Popen [['id']]\n"},
                       [f"deployments.yaml:1:14: {E}unsafe YAML tag !!python/object/new:subprocess.Popen"]),
    "tag-custom-local": (dep("description: !Ref other"), [f"deployments.yaml:6:18: {E}unsupported YAML tag !Ref"]),
    "tag-binary": (dep("description: !!binary aGVsbG8="), [f"deployments.yaml:6:18: {E}unsupported YAML tag !!binary"]),
    "tag-set": (dep("depends_on: !!set {deployment.x}"), [f"deployments.yaml:6:17: {E}unsupported YAML tag !!set"]),
    "tag-omap": (dep("replicas: !!omap [{min: 1}]"), [f"deployments.yaml:6:15: {E}unsupported YAML tag !!omap"]),
    "tag-in-main-file": (main("provider: !!python/object:lorainfra.Evil {}\n"),
                         [f"lorainfra.yaml:1:11: {E}unsafe YAML tag !!python/object:lorainfra.Evil"]),
    "tag-bad-int": (dep("max_context_length: !!int eight"), [f"deployments.yaml:6:25: {E}'eight' is not a valid !!int value"]),
    # -- duplicates --------------------------------------------------------------------------------
    "dup-key-same-mapping": (dep("shape: default"), [f"deployments.yaml:6:5: {E}duplicate key 'shape' in this mapping; first at deployments.yaml:4:5"]),
    "dup-deployment-same-file": ({"deployments.yaml": DEP + f"  base:\n    base_model: {BASE}\n"},
                                 [f"deployments.yaml:6:3: {E}duplicate key 'base' in this mapping; first at deployments.yaml:2:3"]),
    "dup-deployment-across-files": ({"a.yaml": DEP, "b.yaml": "# the same again\n" + DEP},
                                    [f"b.yaml:3:3: {E}deployment 'base' is declared twice; first declared at a.yaml:2:3"]),
    "dup-lora-across-files": ({"a.yaml": serverless(1), "b.yaml": serverless(1)},
                              [f"b.yaml:2:3: {E}lora 'l000' is declared twice; first declared at a.yaml:2:3"]),
    "dup-top-level-key": ({"deployments.yaml": DEP + "deployments: {}\n"},
                          [f"deployments.yaml:6:1: {E}duplicate key 'deployments'"]),
    "dup-provider-key": (main(MAIN + "provider: {}\n"), [f"lorainfra.yaml:4:1: {E}duplicate key 'provider'"]),
    # -- structure -----------------------------------------------------------------------------------
    "top-level-list": ({"deployments.yaml": "- base\n"}, [f"deployments.yaml:1:1: {E}the top level of deployments.yaml must be a mapping"]),
    "top-level-scalar": ({"deployments.yaml": "deployments\n"}, [f"deployments.yaml:1:1: {E}the top level of deployments.yaml must be a mapping"]),
    "top-level-unknown-key": ({"deployments.yaml": "deploymnts: {}\n"},
                              [f"deployments.yaml:1:1: {E}unknown top-level key 'deploymnts'", "did you mean 'deployments'?"]),
    "top-level-non-yaml-lines": ({"copy.yaml": SHADOW},
                                 [f"copy.yaml:1:1: {E}copy.yaml does not look like a lorainfra config file: 2 top-level key(s) are not plain names (not shown)"]),
    "top-level-model-key": ({"deployments.yaml": "datasets: {}\n"}, [f"deployments.yaml:1:1: {E}unknown top-level key 'datasets'"]),
    "provider-in-other-file": ({"deployments.yaml": "provider: {account: x}\n"},
                               [f"deployments.yaml:1:1: {E}provider: is only allowed in lorainfra.yaml"]),
    "state-in-other-file": ({"deployments.yaml": "state: {backend: local}\n"},
                            [f"deployments.yaml:1:1: {E}state: is only allowed in lorainfra.yaml"]),
    "main-empty": (main(""), [f"lorainfra.yaml:1:1: {E}lorainfra.yaml is empty: missing provider"]),
    "main-comments-only": (main("# provider: {}\n"), [f"lorainfra.yaml:1:1: {E}lorainfra.yaml is empty: missing provider"]),
    "main-missing-provider": (main("state: {backend: local}\n"), [f"lorainfra.yaml:1:1: {E}lorainfra.yaml is missing provider"]),
    "main-only-deployments": (main(DEP), [f"lorainfra.yaml:1:1: {E}lorainfra.yaml is missing provider"]),
    "main-named-yml": ({"lorainfra.yaml": "", "lorainfra.yml": MAIN}, [f"lorainfra.yaml:1:1: {E}lorainfra.yaml is empty", f"lorainfra.yml:1:1: {E}provider: is only allowed in lorainfra.yaml"]),
    "deployments-is-list": ({"deployments.yaml": "deployments:\n  - base\n"},
                            [f"deployments.yaml:2:3: {E}deployments must be a mapping or empty, not a list"]),
    "loras-is-string": ({"loras.yaml": "loras: none\n"}, [f"loras.yaml:1:8: {E}loras must be a mapping or empty, not the string 'none'"]),
    "deployment-body-scalar": ({"deployments.yaml": "deployments:\n  base: llama\n"},
                               [f"deployments.yaml:2:9: {E}deployments.base must be a mapping, not the string 'llama'"]),
    "deployment-body-empty": ({"deployments.yaml": "deployments:\n  base:\n"},
                              [f"deployments.yaml:2:8: {E}deployments.base must be a mapping, not empty (null)"]),
    # -- unknown keys ----------------------------------------------------------------------------------
    "unknown-deployment-key": (dep("replica: {min: 1}"), [f"deployments.yaml:6:5: {E}unknown key 'replica' in deployment 'base'", "did you mean 'replicas'?"]),
    "unknown-lora-key": (lora("model: accounts/a/models/m", "deploy: base"),
                         [f"loras.yaml:4:5: {E}unknown key 'deploy' in lora 'bot'", "did you mean 'deployment'?"]),
    "unknown-provider-key": (main("provider:\n  acount: quickstart\n"), [f"lorainfra.yaml:2:3: {E}unknown key 'acount' in provider", "did you mean 'account'?"]),
    "unknown-state-key": (main(MAIN + "state:\n  backnd: local\n"), [f"lorainfra.yaml:5:3: {E}unknown key 'backnd' in state", "did you mean 'backend'?"]),
    "unknown-accelerator-key": (dep("accelerator: {count: 1, kind: x}"), [f"deployments.yaml:6:29: {E}unknown key 'kind' in deployment 'base' (accelerator)"]),
    "unknown-autoscaling-key": (dep("autoscaling: {scale_up: 30s}"), [f"deployments.yaml:6:19: {E}unknown key 'scale_up' in deployment 'base' (autoscaling)", "did you mean 'scale_up_window'?"]),
    "unknown-emulator-key": (main(MAIN + "  emulator: {ready: 1s}\n"), [f"lorainfra.yaml:4:14: {E}unknown key 'ready' in provider.emulator"]),
    "unknown-lifecycle-key": (dep("lifecycle: {prevent_delete: true}"), [f"deployments.yaml:6:17: {E}unknown key 'prevent_delete'", "did you mean 'prevent_destroy'?"]),
    "unknown-placement-key": (dep("placement: {zone: US_IOWA_1}"), [f"deployments.yaml:6:17: {E}unknown key 'zone' in deployment 'base' (placement)"]),
    "unknown-api-field": (dep("enableAddons: true"), [f"deployments.yaml:6:5: {E}unknown key 'enableAddons' in deployment 'base'"]),
    # -- wrong types ----------------------------------------------------------------------------------
    "type-replicas-string": (dep("replicas: {min: one}"), [f"deployments.yaml:6:21: {E}deployments.base.replicas.min must be an integer, not the string 'one'"]),
    "type-replicas-list": (dep("replicas: [1, 2]"), [f"deployments.yaml:6:15: {E}deployments.base.replicas must be a mapping, not a list"]),
    "type-addons-string": ({"deployments.yaml": DEP.replace("addons: true", "addons: 'yes'")},
                           [f"deployments.yaml:5:13: {E}deployments.base.addons must be true or false, not the string 'yes'"]),
    "type-display-name-bool": (dep("display_name: no"), [f"deployments.yaml:6:19: {E}deployments.base.display_name must be a string, not the boolean false", "quotes"]),
    "type-accelerator-count-float": (dep("accelerator: {count: 1.5}"), [f"deployments.yaml:6:26: {E}deployments.base.accelerator.count must be an integer, not the number 1.5"]),
    "type-depends-on-string": (dep("depends_on: deployment.x"), [f"deployments.yaml:6:17: {E}deployments.base.depends_on must be a list"]),
    "type-ignore-changes-string": (dep("lifecycle: {ignore_changes: replicas}"), [f"deployments.yaml:6:33: {E}deployments.base.lifecycle.ignore_changes must be a list"]),
    "type-base-model-number": ({"deployments.yaml": "deployments:\n  base:\n    base_model: 8\n    shape: default\n"},
                               [f"deployments.yaml:3:17: {E}deployments.base.base_model must be a string, not the number 8"]),
    "type-serverless-string": (lora("model: accounts/a/models/m", "serverless: 'true'"), [f"loras.yaml:4:17: {E}loras.bot.serverless must be true or false"]),
    "type-max-context-negative": (dep("max_context_length: -1"), [f"deployments.yaml:6:25: {E}deployments.base.max_context_length must be at least 0, not -1"]),
    "type-load-targets-list": (dep("autoscaling: {load_targets: [0.8]}"), [f"deployments.yaml:6:33: {E}deployments.base.autoscaling.load_targets must be a mapping"]),
    "type-provider-list": (main("provider: [local]\n"), [f"lorainfra.yaml:1:11: {E}provider must be a mapping or empty, not a list"]),
    "type-emulator-ready-bool": (main(MAIN + "  emulator: {ready_after: true}\n"), [f"lorainfra.yaml:4:27: {E}provider.emulator.ready_after must be a string or a number, not the boolean true"]),
    "type-regions-string": (dep("placement: {regions: US_IOWA_1}"), [f"deployments.yaml:6:26: {E}deployments.base.placement.regions must be a list"]),
    "type-endpoint-number": (main("provider: {endpoint: 8080}\n"), [f"lorainfra.yaml:1:22: {E}provider.endpoint must be a string, not the number 8080"]),
    "type-depends-on-item-number": (dep("depends_on: [1]"), [f"deployments.yaml:6:18: {E}deployments.base.depends_on[0] must be a string"]),
    # -- enums ---------------------------------------------------------------------------------------
    # an unknown but well-formed accelerator type is only a warning (tests/config/test_config_accelerators.py)
    "accelerator-lowercase": ({"deployments.yaml": SHAPELESS + "    accelerator: {type: nvidia_h100_80gb}\n"},
                              [f"deployments.yaml:5:25: {E}deployments.base.accelerator.type: 'nvidia_h100_80gb' is not a valid accelerator type", "hint: did you mean 'NVIDIA_H100_80GB'? write a Fireworks accelerator type in upper case"]),
    "accelerator-unspecified": ({"deployments.yaml": SHAPELESS + "    accelerator: {type: ACCELERATOR_TYPE_UNSPECIFIED}\n"},
                                [f"deployments.yaml:5:25: {E}deployments.base.accelerator.type: 'ACCELERATOR_TYPE_UNSPECIFIED' is not a valid accelerator type"]),
    "accelerator-unknown-warning-with-error": ({"deployments.yaml": SHAPELESS + "    accelerator: {type: NVIDIA_X900_1TB, count: 0}\n"},
                                               ["deployments.yaml:5:25: warning: deployments.base.accelerator.type: 'NVIDIA_X900_1TB' is not known to this version of lorainfra",
                                                f"deployments.yaml:5:49: {E}deployments.base.accelerator.count must be at least 1, not 0"]),
    "enum-precision-lowercase": (dep("precision: bf16"), [f"deployments.yaml:6:16: {E}deployments.base.precision: unknown value 'bf16'", "did you mean 'BF16'?"]),
    "enum-region": (dep("placement: {region: US_IOWA}"), [f"deployments.yaml:6:25: {E}deployments.base.placement.region: unknown value 'US_IOWA'", "did you mean 'US_IOWA_1'?"]),
    "enum-multi-region": (dep("placement: {multi_region: EU}"), [f"deployments.yaml:6:31: {E}deployments.base.placement.multi_region: unknown value 'EU'"]),
    "enum-regions-item": (dep("placement: {regions: [US_IOWA_1, MARS_1]}"), [f"deployments.yaml:6:38: {E}deployments.base.placement.regions[1]: unknown value 'MARS_1'"]),
    "enum-state-backend": (main(MAIN + "state: {backend: sqlite}\n"), [f"lorainfra.yaml:4:18: {E}state.backend: unknown value 'sqlite'"]),
    # -- IDs -----------------------------------------------------------------------------------------
    "id-uppercase-deployment": ({"deployments.yaml": DEP.replace("base:", "Base:")},
                                [f"deployments.yaml:2:3: {E}'Base' is not a valid deployment ID", "e.g. 'base'"]),
    "id-underscore-lora": (lora("model: accounts/a/models/m", "serverless: true", name="support_bot"),
                           [f"loras.yaml:2:3: {E}'support_bot' is not a valid lora name", "e.g. 'support-bot'"]),
    "id-too-long": ({"deployments.yaml": DEP.replace("base:", "b" * 64 + ":")}, [f"deployments.yaml:2:3: {E}'{'b' * 64}' is not a valid deployment ID"]),
    "id-leading-dash": ({"deployments.yaml": DEP.replace("base:", "-base:")}, [f"deployments.yaml:2:3: {E}'-base' is not a valid deployment ID"]),
    "id-dot": ({"deployments.yaml": DEP.replace("base:", "llama.8b:")}, [f"deployments.yaml:2:3: {E}'llama.8b' is not a valid deployment ID", "e.g. 'llama-8b'"]),
    "id-account-invalid": (main("provider:\n  account: Quick Start\n"), [f"lorainfra.yaml:2:12: {E}provider.account: 'Quick Start' is not a valid ID"]),
    "id-workspace-invalid": (main(MAIN + "state: {backend: postgres, dsn_env: PG, workspace: Prod_1}\n"),
                             [f"lorainfra.yaml:4:52: {E}state.workspace: 'Prod_1' is not a valid ID"]),
    # -- required keys and patterns ----------------------------------------------------------------
    "missing-base-model": ({"deployments.yaml": "deployments:\n  base:\n    shape: default\n"},
                           [f"deployments.yaml:2:3: {E}deployment 'base' is missing the required key 'base_model'"]),
    "missing-lora-model": (lora("serverless: true"), [f"loras.yaml:2:3: {E}lora 'bot' is missing the required key 'model'"]),
    "base-model-short-name": ({"deployments.yaml": "deployments:\n  base:\n    base_model: llama-v3p1-8b-instruct\n    shape: default\n"},
                              [f"deployments.yaml:3:17: {E}deployments.base.base_model: 'llama-v3p1-8b-instruct' is not a valid model name", "accounts/fireworks/models/"]),
    "lora-model-bad": (lora("model: models/support-bot", "serverless: true"), [f"loras.yaml:3:12: {E}loras.bot.model: 'models/support-bot' is not a valid model name"]),
    "shape-bad-name": ({"deployments.yaml": DEP.replace("shape: default", "shape: h100-shape")},
                       [f"deployments.yaml:4:12: {E}deployments.base.shape: 'h100-shape' is not a valid deployment shape"]),
    "display-name-too-long": (dep("display_name: " + "n" * 80), [f"deployments.yaml:6:19: {E}deployments.base.display_name is 80 characters long; at most 63"]),
    "lora-display-name-too-long": (lora("model: accounts/a/models/m", "serverless: true", "display_name: " + "n" * 64),
                                   [f"loras.yaml:5:19: {E}loras.bot.display_name is 64 characters long"]),
    "state-path-empty": (main(MAIN + "state: {path: ''}\n"), [f"lorainfra.yaml:4:15: {E}state.path must not be empty"]),
    # -- references ----------------------------------------------------------------------------------
    "ref-dangling-typo": (lora("model: accounts/a/models/m", "deployment: bsae"),
                          [f"loras.yaml:4:17: {E}no deployment 'bsae'; did you mean 'base'?", "declared deployments: base"]),
    "ref-dangling-none-declared": ({"loras.yaml": "loras:\n  bot:\n    model: accounts/a/models/m\n    deployment: base\n"},
                                   [f"loras.yaml:4:17: {E}no deployment 'base'", "no deployments are declared in this folder"]),
    "ref-shred-base": ({"deployments.yaml": DEP.replace("base:", "shared-base:"),
                        "loras.yaml": "loras:\n  support-bot:\n    model: accounts/a/models/m\n    deployment: shred-base\n"},
                       [f"loras.yaml:4:17: {E}no deployment 'shred-base'; did you mean 'shared-base'?"]),
    "ref-address-form": (lora("model: accounts/a/models/m", "deployment: deployment.base"),
                         [f"loras.yaml:4:17: {E}deployment: 'deployment.base' is an address", "write the bare name: deployment: base"]),
    "ref-full-name": (lora("model: accounts/a/models/m", "deployment: accounts/quickstart/deployments/base"),
                      [f"loras.yaml:4:17: {E}deployment: 'accounts/quickstart/deployments/base' is not a deployment declared in this folder"]),
    "ref-addons-off": ({"deployments.yaml": DEP.replace("addons: true", "addons: false"),
                        "loras.yaml": "loras:\n  bot:\n    model: accounts/a/models/m\n    deployment: base\n"},
                       [f"loras.yaml:4:17: {E}deployment 'base' does not have addons enabled", "set addons: true on deployment 'base' (deployments.yaml:5:13)"]),
    "ref-addons-missing": ({"deployments.yaml": DEP.replace("    addons: true\n", ""),
                            "loras.yaml": "loras:\n  bot:\n    model: accounts/a/models/m\n    deployment: base\n"},
                           [f"loras.yaml:4:17: {E}deployment 'base' does not have addons enabled", "(deployments.yaml:2:3)"]),
    "ref-base-model-mismatch": (lora("model: accounts/a/models/m", "deployment: base", "base_model: accounts/fireworks/models/qwen3-8b"),
                                [f"loras.yaml:5:17: {E}lora 'bot' has base_model accounts/fireworks/models/qwen3-8b but deployment 'base' serves {BASE}",
                                 "deployments.yaml:3:17"]),
    "lora-both": (lora("model: accounts/a/models/m", "deployment: base", "serverless: true"),
                  [f"loras.yaml:5:5: {E}lora 'bot' sets both deployment and serverless: true"]),
    "lora-neither": (lora("model: accounts/a/models/m"), [f"loras.yaml:2:3: {E}lora 'bot' needs deployment: NAME or serverless: true"]),
    "lora-serverless-false": (lora("model: accounts/a/models/m", "serverless: false"), [f"loras.yaml:2:3: {E}lora 'bot' needs deployment: NAME or serverless: true"]),
    "depends-on-not-address": (dep("depends_on: [base]"), [f"deployments.yaml:6:18: {E}depends_on: 'base' is not an address", "KIND.NAME"]),
    "depends-on-missing": (dep("depends_on: [deployment.other]"), [f"deployments.yaml:6:18: {E}depends_on: no deployment 'other' is declared"]),
    "depends-on-typo": (lora("model: accounts/a/models/m", "serverless: true", "depends_on: [deployment.bse]"),
                        [f"loras.yaml:5:18: {E}depends_on: no deployment 'bse' is declared", "did you mean 'deployment.base'?"]),
    "depends-on-unknown-kind": (dep("depends_on: [dataset.base]"), [f"deployments.yaml:6:18: {E}depends_on: 'dataset.base' is not an address"]),
    # -- cycles ---------------------------------------------------------------------------------------
    "cycle-two-deployments": ({"deployments.yaml": cycle(("a", "deployment.b"), ("b", "deployment.a"))},
                              [f"deployments.yaml:2:3: {E}dependency cycle: deployment.a -> deployment.b -> deployment.a",
                               f"deployments.yaml:6:3: {E}dependency cycle", "deployment.a (deployments.yaml:2:3), deployment.b (deployments.yaml:6:3)"]),
    "cycle-across-files": ({"a.yaml": cycle(("a", "deployment.b")), "b.yaml": cycle(("b", "deployment.a"))},
                           [f"a.yaml:2:3: {E}dependency cycle", f"b.yaml:2:3: {E}dependency cycle"]),
    "cycle-self": ({"deployments.yaml": cycle(("a", "deployment.a"))}, [f"deployments.yaml:2:3: {E}dependency cycle: deployment.a -> deployment.a"]),
    "cycle-three": ({"deployments.yaml": cycle(("a", "deployment.b"), ("b", "deployment.c"), ("c", "deployment.a"))},
                    [f"deployments.yaml:2:3: {E}dependency cycle: deployment.a -> deployment.b -> deployment.c -> deployment.a",
                     f"deployments.yaml:6:3: {E}dependency cycle", f"deployments.yaml:10:3: {E}dependency cycle"]),
    "cycle-deployment-lora": ({"deployments.yaml": DEP + "    depends_on: [lora.bot]\n",
                               "loras.yaml": "loras:\n  bot:\n    model: accounts/a/models/m\n    deployment: base\n"},
                              [f"deployments.yaml:2:3: {E}dependency cycle: deployment.base -> lora.bot -> deployment.base",
                               f"loras.yaml:2:3: {E}dependency cycle"]),
    # -- limits ---------------------------------------------------------------------------------------
    "serverless-over-limit": ({"loras.yaml": serverless(101)},
                              [f"loras.yaml:302:3: {E}more than 100 serverless LoRAs (101 declared); lora 'l100' is number 101"]),
    "serverless-over-limit-across-files": ({"a.yaml": serverless(60), "b.yaml": serverless(60).replace("  l0", "  m0").replace("models/m", "models/n")},
                                           [f"b.yaml:122:3: {E}more than 100 serverless LoRAs (120 declared)"]),
    "deployment-over-100-loras": ({"deployments.yaml": DEP, "loras.yaml": attached(101)},
                                  [f"deployments.yaml:2:3: {E}deployment 'base' has 101 LoRAs attached; at most 100", "lora 'l100' at loras.yaml:302:3"]),
    # -- bounds ---------------------------------------------------------------------------------------
    "replicas-min-gt-max": (dep("replicas:", "  min: 3", "  max: 1"), [f"deployments.yaml:8:12: {E}replicas.max (1) is less than replicas.min (3)"]),
    "replicas-negative": (dep("replicas: {max: -2}"), [f"deployments.yaml:6:21: {E}deployments.base.replicas.max must be at least 0, not -2"]),
    "scale-up-over-hour": (dep("autoscaling: {scale_up_window: 61m}"), [f"deployments.yaml:6:36: {E}autoscaling.scale_up_window is 1h1m; Fireworks allows at most 1h"]),
    "scale-down-over-hour": (dep("autoscaling: {scale_down_window: 7200}"), [f"deployments.yaml:6:38: {E}autoscaling.scale_down_window is 2h; Fireworks allows at most 1h"]),
    "scale-to-zero-under-5m": (dep("autoscaling: {scale_to_zero_window: 4m}"), [f"deployments.yaml:6:41: {E}autoscaling.scale_to_zero_window is 4m; Fireworks requires at least 5m"]),
    "window-bad-syntax": (dep("autoscaling: {scale_up_window: 30 seconds}"), [f"deployments.yaml:6:36: {E}deployments.base.autoscaling.scale_up_window: '30 seconds' is not a valid duration"]),
    "window-negative": (dep("autoscaling: {scale_down_window: -5}"), [f"deployments.yaml:6:38: {E}deployments.base.autoscaling.scale_down_window must be at least 0, not -5"]),
    "load-target-over-1": (dep("autoscaling: {load_targets: {default: 80}}"), [f"deployments.yaml:6:43: {E}deployments.base.autoscaling.load_targets.default must be at most 1, not 80"]),
    "load-target-negative": (dep("autoscaling: {load_targets: {requests_per_second: -1}}"), [f"deployments.yaml:6:55: {E}deployments.base.autoscaling.load_targets.requests_per_second must be at least 0"]),
    "load-target-nan": (dep("autoscaling: {load_targets: {default: .nan}}"), [f"deployments.yaml:6:43: {E}autoscaling.load_targets.default must be a finite number"]),
    # API integer fields are int32 (issue 13, item 21): 10^23 replicas used to pass validate
    "replicas-min-beyond-int32": (dep("replicas: {min: " + "1" + "0" * 23 + "}"),
                                  [f"deployments.yaml:6:21: {E}deployments.base.replicas.min must be at most 2147483647, not 1{'0' * 23}"]),
    "replicas-max-beyond-int32": (dep("replicas: {max: 2147483648}"), [f"deployments.yaml:6:21: {E}deployments.base.replicas.max must be at most 2147483647, not 2147483648"]),
    "accelerator-count-beyond-int32": ({"deployments.yaml": SHAPELESS + "    accelerator: {type: NVIDIA_H100_80GB, count: 1" + "0" * 29 + "}\n"},
                                       [f"deployments.yaml:5:50: {E}deployments.base.accelerator.count must be at most 2147483647, not 1{'0' * 29}"]),
    "max-context-beyond-int32": (dep("max_context_length: 4294967296"), [f"deployments.yaml:6:25: {E}deployments.base.max_context_length must be at most 2147483647"]),
    "accelerator-count-zero": (dep("accelerator: {count: 0}"), [f"deployments.yaml:6:26: {E}deployments.base.accelerator.count must be at least 1, not 0"]),
    "placement-empty": (dep("placement: {}"), [f"deployments.yaml:6:16: {E}placement must set exactly one of region, multi_region, regions"]),
    "placement-two": (dep("placement: {region: US_IOWA_1, multi_region: US}"), [f"deployments.yaml:6:36: {E}placement sets both region and multi_region"]),
    "placement-three": (dep("placement: {region: US_IOWA_1, multi_region: US, regions: [EU_PARIS_1]}"),
                        [f"deployments.yaml:6:36: {E}placement sets both region and multi_region", f"deployments.yaml:6:54: {E}placement sets both region and regions"]),
    "regions-empty": (dep("placement: {regions: []}"), [f"deployments.yaml:6:26: {E}deployments.base.placement.regions must list at least 1 item"]),
    "regions-duplicates": (dep("placement: {regions: [US_IOWA_1, US_IOWA_1]}"), [f"deployments.yaml:6:26: {E}deployments.base.placement.regions lists the same item more than once"]),
    "shape-and-accelerator": (dep("accelerator: {type: NVIDIA_H100_80GB, count: 1}"), [f"deployments.yaml:4:5: {E}set either shape or accelerator.type, not both"]),
    "neither-shape-nor-accelerator": ({"deployments.yaml": SHAPELESS}, [f"deployments.yaml:2:3: {E}deployment 'base' needs shape or accelerator.type", "shape: default"]),
    "count-without-type-or-shape": ({"deployments.yaml": SHAPELESS + "    accelerator: {count: 8}\n"}, [f"deployments.yaml:2:3: {E}deployment 'base' needs shape or accelerator.type"]),
    # -- provider and state ------------------------------------------------------------------------------
    "endpoint-v1": (main("provider:\n  endpoint: https://api.fireworks.ai/v1\n"), [f"lorainfra.yaml:2:13: {E}provider.endpoint must not end in /v1", "write https://api.fireworks.ai"]),
    "endpoint-bad-scheme": (main("provider:\n  endpoint: ftp://api.fireworks.ai\n"), [f"lorainfra.yaml:2:13: {E}provider.endpoint must be 'local' or an http(s):// URL"]),
    "endpoint-no-scheme": (main("provider:\n  endpoint: api.fireworks.ai\n"), [f"lorainfra.yaml:2:13: {E}provider.endpoint must be 'local' or an http(s):// URL"]),
    "endpoint-credentials": (main("provider:\n  endpoint: https://me:pw@api.fireworks.ai\n"), [f"lorainfra.yaml:2:13: {E}provider.endpoint must not contain credentials"]),
    "endpoint-localhost-typo": (main("provider:\n  endpoint: locale\n"), [f"lorainfra.yaml:2:13: {E}provider.endpoint must be 'local' or an http(s):// URL, not 'locale'"]),
    "emulator-with-url": (main("provider:\n  endpoint: https://api.fireworks.ai\n  emulator: {ready_after: 1s}\n"),
                          [f"lorainfra.yaml:3:3: {E}provider.emulator applies only to endpoint: local"]),
    "emulator-negative-duration": (main(MAIN + "  emulator: {delete_after: -1}\n"), [f"lorainfra.yaml:4:28: {E}provider.emulator.delete_after must be at least 0, not -1"]),
    "emulator-bad-duration": (main(MAIN + "  emulator: {deployed_after: 1 minute}\n"), [f"lorainfra.yaml:4:30: {E}provider.emulator.deployed_after: '1 minute' is not a valid duration"]),
    "emulator-infinite": (main(MAIN + "  emulator: {ready_after: .inf}\n"), [f"lorainfra.yaml:4:27: {E}provider.emulator.ready_after: inf is not a duration"]),
    "emulator-nan": (main(MAIN + "  emulator: {ready_after: .nan}\n"), [f"lorainfra.yaml:4:27: {E}provider.emulator.ready_after: nan is not a duration"]),
    "window-nan": (dep("autoscaling: {scale_up_window: .NaN}"), [f"deployments.yaml:6:36: {E}autoscaling.scale_up_window: nan is not a duration"]),
    "emulator-overflow": (main(MAIN + "  emulator: {ready_after: " + "9" * 400 + "s}\n"),
                          [f"lorainfra.yaml:4:27: {E}provider.emulator.ready_after: '999", "is not a duration"]),
    "window-overflow": (dep("autoscaling: {scale_to_zero_window: " + "9" * 400 + "h}"),
                        [f"deployments.yaml:6:41: {E}autoscaling.scale_to_zero_window: '999", "is not a duration"]),
    "emulator-seed-in-folder": (main(MAIN + "  emulator: {seed: models.yaml}\n"), [f"lorainfra.yaml:4:20: {E}the emulator seed file 'models.yaml' would be read as a config file"]),
    "dsn-in-dsn-env": (main(MAIN + "state:\n  backend: postgres\n  dsn_env: postgres://lorainfra:s3cret@db:5432/state\n"),
                       [f"lorainfra.yaml:6:12: {E}state.dsn_env looks like a DSN or URL; it must name an environment variable"]),
    "dsn-env-bad-name": (main(MAIN + "state:\n  backend: postgres\n  dsn_env: my-dsn\n"), [f"lorainfra.yaml:6:12: {E}state.dsn_env is not a valid environment variable name"]),
    "postgres-no-dsn-env": (main(MAIN + "state:\n  backend: postgres\n"), [f"lorainfra.yaml:5:3: {E}the postgres backend needs state.dsn_env"]),
    "path-with-postgres": (main(MAIN + "state:\n  backend: postgres\n  dsn_env: PG_DSN\n  path: s.json\n"), [f"lorainfra.yaml:7:3: {E}state.path applies only to backend: local"]),
    "dsn-env-with-local": (main(MAIN + "state:\n  dsn_env: PG_DSN\n"), [f"lorainfra.yaml:5:3: {E}state.dsn_env applies only to backend: postgres"]),
    # -- lifecycle ----------------------------------------------------------------------------------------
    "lifecycle-unknown-ignore": (dep("lifecycle: {ignore_changes: [replicas.maximum]}"),
                                 [f"deployments.yaml:6:34: {E}lifecycle.ignore_changes: unknown attribute 'replicas.maximum' for a deployment", "did you mean 'replicas.max'?"]),
    "lifecycle-lora-ignore-deployment-key": (lora("model: accounts/a/models/m", "serverless: true", "lifecycle: {ignore_changes: [replicas]}"),
                                             [f"loras.yaml:5:34: {E}lifecycle.ignore_changes: unknown attribute 'replicas' for a lora"]),
    "lifecycle-prevent-destroy-string": (dep("lifecycle: {prevent_destroy: 'yes'}"), [f"deployments.yaml:6:34: {E}deployments.base.lifecycle.prevent_destroy must be true or false"]),
    "lifecycle-duplicate-ignore": (dep("lifecycle: {ignore_changes: [shape, shape]}"), [f"deployments.yaml:6:33: {E}deployments.base.lifecycle.ignore_changes lists the same item more than once"]),
    # -- several problems at once -------------------------------------------------------------------------
    "many-problems-many-files": (
        {"lorainfra.yaml": "provider: {acount: x}\n", "empty.yaml": "",
         "deployments.yaml": DEP.replace("addons: true", "addons: false") + "    replicas: {min: 2, max: 1}\n",
         "loras.yaml": "loras:\n  Bot:\n    model: accounts/a/models/m\n    deployment: base\n"},
        [f"lorainfra.yaml:1:12: {E}unknown key 'acount' in provider", f"deployments.yaml:6:29: {E}replicas.max (1) is less",
         f"loras.yaml:2:3: {E}'Bot' is not a valid lora name", f"loras.yaml:4:17: {E}deployment 'base' does not have addons enabled"]),
    "empty-file-is-fine-but-ref-is-not": ({"empty.yaml": "", "loras.yaml": serverless(1) + "    deployment: nowhere\n"},
                                          [f"loras.yaml:4:5: {E}lora 'l000' sets both deployment and serverless: true"]),
    # -- environments, overlays, variables (issue 15) --------------------------------------------------------
    "env-not-selected": (env_case(None, {}), [f"lorainfra.yaml:6:1: {E}this folder declares environments (staging, "
                                              "prod); choose one", "pass --env NAME (or set LORAINFRA_ENV=NAME)"]),
    "env-unknown": (env_case("prdo", {}), [f"lorainfra.yaml:6:1: {E}unknown environment 'prdo'", "did you mean 'prod'?"]),
    "env-undefined-variable": (env_case("prod", {"loras.yaml": LORA_V.replace("lora_version", "lora_verison")}),
                               [f"loras.yaml:3:12: {E}undefined variable lora_verison in ${{var.lora_verison}}",
                                "did you mean 'lora_version'?"]),
    "env-variable-wrong-type": (env_case("prod", {}, ENVS.replace("{replicas: 2}", "{replicas: two}")),
                                [f"lorainfra.yaml:11:22: {E}variable replicas is integer, but its value "
                                 "(environments.prod.vars) is 'two'"]),
    "env-wrong-type-after-substitution": (
        env_case("staging", {"deployments.yaml": DEP + "    replicas: {min: '${var.lora_version}'}\n"}),
        [f"deployments.yaml:6:21: {E}deployments.base.replicas.min must be an integer, not the string 'v1'"]),
    "env-variable-cycle": (env_case("staging", {"loras.yaml": LORA_V},
                                    ENVS.replace("{default: v1}", "{default: '${var.channel}'}\n  channel: {default: "
                                                 "'${var.lora_version}-x'}")),
                           [f"lorainfra.yaml:6:22: {E}variables refer to each other in a cycle: lora_version -> "
                            "channel -> lora_version"]),
    "env-unsupported-expression": (env_case("prod", {"loras.yaml": LORA_V.replace("var.lora_version", "env.HOME")}),
                                   [f"loras.yaml:3:12: {E}unsupported expression ${{env.HOME}}"]),
    "env-undeclared-var-value": (env_case("prod", {}, ENVS.replace("{replicas: 2}", "{replica: 2}")),
                                 [f"lorainfra.yaml:11:12: {E}variable replica is not declared", "did you mean 'replicas'?"]),
    "overlay-unknown-resource": (env_case("staging", {"loras.yaml": LORA_V,
                                                      "env/staging/loras.yaml": "loras:\n  bto:\n    model: x\n"}),
                                 [f"env/staging/loras.yaml:2:3: {E}the overlay env/staging/loras.yaml changes loras.bto, "
                                  "which no shared file declares"]),
    "overlay-folder-unknown-env": (env_case("prod", {"env/prdo/loras.yaml": "loras: {}\n"}),
                                   [f"env/prdo/: {E}overlay folder env/prdo/ is for an environment that lorainfra.yaml "
                                    "does not declare", "did you mean 'prod'?"]),
    "overlay-provider-section": (env_case("prod", {"env/prod/x.yaml": "provider: {account: other}\n"}),
                                 [f"env/prod/x.yaml:1:1: {E}provider: is not allowed in an overlay"]),
    "overlay-error-points-at-overlay": (
        env_case("prod", {"loras.yaml": LORA_V, "env/prod/loras.yaml": "loras:\n  bot:\n    deployment: nowhere\n"}),
        [f"env/prod/loras.yaml:3:17: {E}"]),
    "env-shared-state-path": (env_case("prod", {}, ENVS + "state:\n  path: state.json\n"),
                              [f"lorainfra.yaml:13:3: {E}state.path would be shared by the environments staging, prod"]),
    "env-without-environments": ({ENV_FILE: "prod"}, [f"lorainfra.yaml:1:1: {E}--env prod was given but lorainfra.yaml "
                                                      "declares no environments"]),
    # -- fleets (issue 15): one LoRA on several deployments ------------------------------------------------------
    "fleet-unknown-deployment": (lora("model: accounts/q/models/m", "deployments: [base, bsae]"),
                                 [f"loras.yaml:4:25: {E}no deployment 'bsae'", "did you mean 'base'?"]),
    "fleet-duplicate-item": (lora("model: accounts/q/models/m", "deployments: [base, base]"),
                             [f"loras.yaml:4:25: {E}deployments: base is listed twice (first at loras.yaml:4:19)"]),
    "fleet-address-item": (lora("model: accounts/q/models/m", "deployments: [deployment.base]"),
                           [f"loras.yaml:4:19: {E}deployments: 'deployment.base' is an address, not a deployment name",
                            "write the bare name: base"]),
    "fleet-bad-item": (lora("model: accounts/q/models/m", "deployments: [Base_1]"),
                       [f"loras.yaml:4:19: {E}deployments: 'Base_1' is not a deployment name"]),
    "fleet-and-deployment": (lora("model: accounts/q/models/m", "deployment: base", "deployments: [base]"),
                             [f"loras.yaml:4:5: {E}lora 'bot' sets both deployments and deployment"]),
    "fleet-and-serverless": (lora("model: accounts/q/models/m", "serverless: true", "deployments: [base]"),
                             [f"loras.yaml:4:5: {E}lora 'bot' sets both deployments and serverless"]),
    "fleet-empty": (lora("model: accounts/q/models/m", "deployments: []"), [f"loras.yaml:4:18: {E}"]),
    "fleet-no-addons": ({"deployments.yaml": DEP + "  other:\n    base_model: " + BASE + "\n    shape: default\n",
                         "loras.yaml": "loras:\n  bot:\n    model: accounts/q/models/m\n    deployments: [base, other]\n"},
                        [f"loras.yaml:4:25: {E}deployment 'other' does not have addons enabled"]),
    "fleet-and-plain-same-name": ({"deployments.yaml": DEP, "a.yaml": "loras:\n  bot:\n    model: accounts/q/models/m\n"
                                   "    deployment: base\n",
                                   "b.yaml": "loras:\n  bot:\n    model: accounts/q/models/m\n    deployments: [base]\n"},
                                  [f"b.yaml:2:3: {E}lora 'bot' is declared twice; first declared at a.yaml:2:3"]),
    "fleet-moved-to-whole-fleet": ({"deployments.yaml": DEP, "loras.yaml": "loras:\n  bot:\n    model: accounts/q/models/m\n"
                                    "    deployments: [base]\nmoved:\n  - {from: lora.old, to: lora.bot}\n"},
                                   [f"loras.yaml:6:5: {E}moved to lora.bot, which is a fleet", "write to: lora.bot[base]"]),
    "fleet-bad-address": ({"deployments.yaml": DEP, "loras.yaml": "loras:\n  bot:\n    model: accounts/q/models/m\n"
                           "    deployments: [base]\nremoved:\n  - {from: 'lora.bot[base'}\n"},
                          [f"loras.yaml:6:12: {E}invalid address 'lora.bot[base'"]),
    # -- external deployments (issue 15): a deployment another team manages --------------------------------------
    "external-malformed": (lora("model: accounts/q/models/m", "deployment: {external: accounts/q/deployment/base}"),
                           [f"loras.yaml:4:28: {E}loras.bot.deployment.external: 'accounts/q/deployment/base' is not "
                            "a valid deployment name", "accounts/ACCOUNT/deployments/ID"]),
    "external-bare-id": (lora("model: accounts/q/models/m", "deployment: {external: team-base}"),
                         [f"loras.yaml:4:28: {E}loras.bot.deployment.external: 'team-base' is not a valid deployment name"]),
    "external-unknown-key": (lora("model: accounts/q/models/m", "deployment: {extrenal: accounts/q/deployments/d}"),
                             [f"loras.yaml:4:18: {E}unknown key 'extrenal'", "did you mean 'external'?"]),
    "external-and-serverless": (lora("model: accounts/q/models/m", "deployment: {external: accounts/q/deployments/d}",
                                     "serverless: true"),
                                [f"loras.yaml:5:5: {E}lora 'bot' sets both deployment and serverless: true"]),
    "external-in-fleet": (lora("model: accounts/q/models/m", "deployments: [base, {external: accounts/q/deployments/d}]"),
                          [f"loras.yaml:4:25: {E}loras.bot.deployments[1] must be a string, not a mapping"]),
    # -- one live object, one fate (issue 12): two LoRAs with one identity ----------------------------------------
    "lora-same-model-same-deployment": ({"deployments.yaml": DEP, "loras.yaml": "loras:\n  faq-bot:\n    model: accounts/q/models/m\n"
                                         "    deployment: base\n  extra:\n    model: accounts/q/models/m\n    deployment: base\n"},
                                        [f"loras.yaml:7:17: {E}lora.extra loads model 'accounts/q/models/m' on deployment 'base', "
                                         "as lora.faq-bot does (at loras.yaml:4:17): both would be one live object"]),
    "lora-same-model-serverless": ({"loras.yaml": "loras:\n  a:\n    model: accounts/q/models/m\n    serverless: true\n"
                                    "  b:\n    model: accounts/q/models/m\n    serverless: true\n"},
                                   [f"loras.yaml:7:17: {E}lora.b loads model 'accounts/q/models/m' on serverless, as lora.a does"]),
    "lora-fleet-item-and-plain-same-model": ({"deployments.yaml": DEP, "loras.yaml": "loras:\n  bot:\n    model: accounts/q/models/m\n"
                                              "    deployment: base\n  fleet:\n    model: accounts/q/models/m\n"
                                              "    deployments: [base]\n"},
                                             [f"loras.yaml:7:19: {E}lora.fleet[base] loads model 'accounts/q/models/m' on "
                                              "deployment 'base', as lora.bot does (at loras.yaml:4:17)"]),
    "broken-file-and-bad-id": ({"a.yaml": "deployments: [\n", "b.yaml": DEP.replace("base:", "BASE:")},
                               [f"a.yaml:2:1: {E}invalid YAML", f"b.yaml:2:3: {E}'BASE' is not a valid deployment ID"]),
}


def write_case(folder: Path, files: dict[str, str | bytes], expected: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if "lorainfra.yaml" not in files:
        (folder / "lorainfra.yaml").write_text(MAIN)
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content)
    (folder / "expected.txt").write_text("".join(line + "\n" for line in expected))


# -- cases written at test time (too big or too binary to commit) ------------------------------------


def _huge(folder: Path) -> None:
    chunk = b"# padding " + b"x" * 1013 + b"\n"
    with (folder / "huge.yaml").open("wb") as handle:
        for _ in range(50 * 1024):
            handle.write(chunk)


def _link_outside(folder: Path) -> None:
    secret = folder.parent / f"{folder.name}-shadow"
    secret.write_text(SHADOW)
    (folder / "evil.yaml").symlink_to(secret)


def _link_loop(folder: Path) -> None:
    (folder / "a.yaml").symlink_to("b.yaml")
    (folder / "b.yaml").symlink_to("a.yaml")


def _main_directory(folder: Path) -> None:
    (folder / "lorainfra.yaml").unlink()
    (folder / "lorainfra.yaml").mkdir()


def _over_total(folder: Path) -> None:
    pad = b"# " + b"x" * 1021 + b"\n"
    for index in range(5):
        (folder / f"f{index}.yaml").write_bytes(pad * 4097)  # just over 4 MB each: over 20 MB at the fifth


ADAPTER_BASE = "accounts/fireworks/models/llama-v3p1-8b-instruct"


def _safetensors(values: int = 4) -> bytes:
    """A real safetensors file: 8-byte little-endian header length, JSON header, F32 data."""
    data = struct.pack(f"<{values}f", *[float(i) for i in range(values)])
    header = json.dumps({"lora_A.weight": {"dtype": "F32", "shape": [values], "data_offsets": [0, len(data)]}}).encode()
    return struct.pack("<Q", len(header)) + header + data


def _adapter(breaker: Callable[[Path], object]) -> Callable[[Path], None]:
    """A models.yaml declaring model.bot-v1 from adapters/bot, a good adapter there, then ``breaker(adapter)``."""
    def make(folder: Path) -> None:
        (folder / "models.yaml").write_text(f"models:\n  bot-v1:\n    base_model: {ADAPTER_BASE}\n    files: adapters/bot\n")
        adapter = folder / "adapters" / "bot"
        adapter.mkdir(parents=True)
        (adapter / "adapter_config.json").write_text('{\n  "r": 8,\n  "target_modules": ["q_proj", "v_proj"]\n}\n')
        (adapter / "adapter_model.safetensors").write_bytes(_safetensors())
        breaker(adapter)
    return make


def _models_yaml(text: str) -> Callable[[Path], object]:
    """Rewrite models.yaml (beside the good adapter folder)."""
    return lambda a: (a.parent.parent / "models.yaml").write_text(text)


def _lora_of(model: str) -> Callable[[Path], object]:
    """A deployment and a LoRA loading ``model`` (beside the good model.bot-v1)."""
    def make(adapter: Path) -> None:
        (adapter.parent.parent / "deployments.yaml").write_text(DEP)
        (adapter.parent.parent / "loras.yaml").write_text(f"loras:\n  bot:\n    model: {model}\n    deployment: base\n")
    return make


def _config(text: str) -> Callable[[Path], object]:
    return lambda a: (a / "adapter_config.json").write_text(text)


def _weights(blob: bytes) -> Callable[[Path], object]:
    return lambda a: (a / "adapter_model.safetensors").write_bytes(blob)


def _link_to_folder(adapter: Path) -> None:
    (adapter.parent / "elsewhere").mkdir()
    (adapter / "checkpoint").symlink_to(adapter.parent / "elsewhere")


_BAD_OFFSETS = json.dumps({"w": {"dtype": "F32", "shape": [100], "data_offsets": [0, 400]}}).encode()
_F = "adapters/bot/"

def _overlay_dangling(folder: Path) -> None:
    (folder / "lorainfra.yaml").write_text(ENVS)
    (folder / "deployments.yaml").write_text(DEP)
    (folder / ENV_FILE).write_text("prod")
    (folder / "env" / "prod").mkdir(parents=True)
    (folder / "env" / "prod" / "loras.yaml").symlink_to("../../shared/loras.yaml")


def _overlay_outside(folder: Path) -> None:
    _overlay_dangling(folder)
    (folder / "env" / "prod" / "loras.yaml").unlink()
    secret = folder.parent / f"{folder.name}-shadow"
    secret.write_text(SHADOW)
    (folder / "env" / "prod" / "loras.yaml").symlink_to(secret)


DYNAMIC: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    # -- overlays keep the entry rules (issue 15) ------------------------------------------------------------
    "overlay-dangling-link": (_overlay_dangling, ["env/prod/loras.yaml: error: env/prod/loras.yaml is a symbolic link "
                                                  "to ../../shared/loras.yaml, which does not exist"]),
    "overlay-link-outside": (_overlay_outside, ["env/prod/loras.yaml: error: env/prod/loras.yaml is a symbolic link to a "
                                                "file outside the config folder"]),
    # -- adapter folders of a models: entry (issue 14): each a file:line error before any API call ----------
    "adapter-missing-config": (_adapter(lambda a: (a / "adapter_config.json").unlink()),
                               [f"models.yaml:4:12: {E}adapters/bot has no adapter_config.json"]),
    "adapter-missing-weights": (_adapter(lambda a: (a / "adapter_model.safetensors").unlink()),
                                [f"models.yaml:4:12: {E}adapters/bot has no adapter_model.safetensors"]),
    "adapter-missing-folder": (_adapter(lambda a: shutil.rmtree(a)), [f"models.yaml:4:12: {E}adapter folder adapters/bot does not exist"]),
    "adapter-files-is-a-file": (_adapter(lambda a: shutil.rmtree(a) or a.write_text("x")),
                                [f"models.yaml:4:12: {E}adapters/bot is not a folder"]),
    "adapter-config-not-json": (_adapter(_config('{\n  "r": 8,\n  oops\n}\n')),
                                [f"{_F}adapter_config.json:3:1: {E}adapter_config.json is not valid JSON"]),
    "adapter-config-empty": (_adapter(_config("")), [f"{_F}adapter_config.json: {E}adapter_config.json is empty"]),
    "adapter-config-list": (_adapter(_config("[8]\n")), [f"{_F}adapter_config.json:1:1: {E}adapter_config.json must hold a JSON object"]),
    "adapter-rank-too-high": (_adapter(_config('{\n  "target_modules": ["q_proj"],\n  "r": 128\n}\n')),
                              [f"{_F}adapter_config.json:3:1: {E}adapter_config.json: r is 128; Fireworks accepts ranks 4 to 64"]),
    "adapter-rank-missing": (_adapter(_config('{"target_modules": ["q_proj"]}')), [f"{_F}adapter_config.json:1:1: {E}adapter_config.json has no r"]),
    "adapter-bad-modules": (_adapter(_config('{"r": 8,\n "target_modules": ["lm_head"]}')),
                            [f"{_F}adapter_config.json:2:1: {E}adapter_config.json: target_modules lm_head not supported by Fireworks"]),
    "adapter-wrong-base": (_adapter(_config('{"r": 8, "target_modules": ["q_proj"], '
                                            '"base_model_name_or_path": "accounts/fireworks/models/qwen2p5-7b-instruct"}')),
                           [f"models.yaml:3:17: {E}model 'bot-v1' has base_model {ADAPTER_BASE} but adapters/bot/adapter_config.json "
                            "was trained on accounts/fireworks/models/qwen2p5-7b-instruct"]),
    "adapter-zero-byte-weights": (_adapter(_weights(b"")), [f"{_F}adapter_model.safetensors: {E}adapter_model.safetensors is empty (0 bytes)"]),
    "adapter-short-weights": (_adapter(_weights(b"abc")), [f"{_F}adapter_model.safetensors: {E}adapter_model.safetensors is 3 bytes"]),
    "adapter-header-too-long": (_adapter(_weights(struct.pack("<Q", 10_000) + b"{}")),
                                [f"{_F}adapter_model.safetensors: {E}adapter_model.safetensors: safetensors header length 10000 does not fit"]),
    "adapter-header-not-json": (_adapter(_weights(struct.pack("<Q", 4) + b"abcd")),
                                [f"{_F}adapter_model.safetensors: {E}adapter_model.safetensors: the safetensors header is not JSON"]),
    "adapter-offsets-outside": (_adapter(_weights(struct.pack("<Q", len(_BAD_OFFSETS)) + _BAD_OFFSETS + b"\0" * 16)),
                                [f"{_F}adapter_model.safetensors: {E}adapter_model.safetensors: tensor 'w' has a bad dtype or data_offsets"]),
    "adapter-link-to-folder": (_adapter(_link_to_folder), [f"{_F}checkpoint: {E}checkpoint is a folder (a link to a folder)"]),
    "adapter-dangling-link": (_adapter(lambda a: (a / "tokenizer.json").symlink_to("gone.json")),
                              [f"{_F}tokenizer.json: {E}tokenizer.json is not a regular file (a broken link or a special file)"]),
    "adapter-fifo": (_adapter(lambda a: os.mkfifo(a / "adapter_model.bin")),
                     [f"{_F}adapter_model.bin: {E}adapter_model.bin is not a regular file"]),
    # -- model: model.NAME and id_from_content (issue 14) ----------------------------------------------------
    "lora-model-ref-unknown": (_adapter(_lora_of("model.bot-v2")),
                               [f"loras.yaml:3:12: {E}no model 'bot-v2' under models:; did you mean 'bot-v1'?"]),
    "lora-model-ref-not-declared": (_adapter(_lora_of("model.faq")),
                                    [f"loras.yaml:3:12: {E}no model 'faq' under models:", "declared models: bot-v1"]),
    "lora-model-ref-bad-name": (_adapter(_lora_of("model.Bot_V1")),
                                [f"loras.yaml:3:12: {E}loras.bot.model: 'model.Bot_V1' is not a valid model name or model.NAME"]),
    "lora-full-name-of-content-id-model": (_adapter(lambda a: (_models_yaml(f"models:\n  bot-v1:\n    base_model: {ADAPTER_BASE}\n"
                                                                    "    files: adapters/bot\n    id_from_content: true\n")(a),
                                                       _lora_of("accounts/quickstart/models/bot-v1")(a))),
                                           [f"loras.yaml:3:12: {E}model 'bot-v1' has id_from_content: true: its "
                                            "Fireworks ID is bot-v1-DIGEST (8 hex digits of its files), not bot-v1"]),
    "model-content-id-too-long": (_adapter(_models_yaml(f"models:\n  {'b' * 55}:\n    base_model: {ADAPTER_BASE}\n"
                                                        "    files: adapters/bot\n    id_from_content: true\n")),
                                  [f"models.yaml:2:3: {E}model '{'b' * 55}' is 55 characters; with id_from_content: true"]),
    "model-content-id-ignores-files": (_adapter(_models_yaml(f"models:\n  bot-v1:\n    base_model: {ADAPTER_BASE}\n"
                                                             "    files: adapters/bot\n    id_from_content: true\n"
                                                             "    lifecycle: {ignore_changes: [files]}\n")),
                                       [f"models.yaml:6:33: {E}model 'bot-v1' sets id_from_content: true and ignores "
                                        "changes of its files"]),
    # -- entries that are not readable regular files (issue 13, item 1): an error, never skipped ------------
    "entry-fifo": (lambda f: os.mkfifo(f / "loras.yaml"), ["loras.yaml: error: loras.yaml is a named pipe (FIFO), not a regular file"]),
    "entry-dangling-link": (lambda f: (f / "loras.yaml").symlink_to("loras-v2.yaml"),
                            ["loras.yaml: error: loras.yaml is a symbolic link to", "loras-v2.yaml, which does not exist"]),
    "entry-directory": (lambda f: (f / "loras.yaml").mkdir(), ["loras.yaml: error: loras.yaml is a directory, not a file"]),
    "entry-link-loop": (_link_loop, ["a.yaml: error: cannot read a.yaml: Too many levels of symbolic links"]),
    "entry-main-directory": (_main_directory, ["lorainfra.yaml: error: lorainfra.yaml is a directory, not a file"]),
    # -- links out of the folder and non-YAML content (issue 13, item 13) --------------------------------
    "entry-link-outside": (_link_outside, ["evil.yaml: error: evil.yaml is a symbolic link to a file outside the config folder",
                                           "LORAINFRA_ALLOW_OUTSIDE_LINKS=1"]),
    "folder-over-20mb": (_over_total, ["f4.yaml: error: the config files add up to more than 20 MB (reading stopped at f4.yaml)"]),
    "file-50mb": (_huge, ["huge.yaml: error: huge.yaml is 50.0 MB; config files may be at most 5 MB"]),
    "file-binary-png": (lambda f: (f / "logo.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))),
                        ["logo.yaml:3:1: error: logo.yaml looks binary (NUL byte at byte offset 8)"]),
    "file-binary-elf": (lambda f: (f / "tool.yml").write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 64),
                        ["tool.yml:1:8: error: tool.yml looks binary (NUL byte at byte offset 7)"]),
    "file-latin1": (lambda f: (f / "d.yaml").write_bytes("deployments:\n  café:\n    base_model: x\n".encode("latin-1")),
                    ["d.yaml:2:6: error: d.yaml is not valid UTF-8: byte 0xe9 at byte offset 18"]),
    "file-utf16": (lambda f: (f / "d.yaml").write_bytes("deployments: {}\n".encode("utf-16")), ["d.yaml:1:1: error: d.yaml is UTF-16 encoded"]),
    "file-truncated-utf8": (lambda f: (f / "d.yaml").write_bytes("deployments:\n  b: é".encode()[:-1]),
                            ["d.yaml:2:6: error: d.yaml is not valid UTF-8"]),
    "main-binary": (lambda f: (f / "lorainfra.yaml").write_bytes(b"\x00\x01\x02"), ["lorainfra.yaml:1:1: error: lorainfra.yaml looks binary"]),
    "main-latin1": (lambda f: (f / "lorainfra.yaml").write_bytes("provider:\n  account: \xe9\n".encode("latin-1")),
                    ["lorainfra.yaml:2:12: error: lorainfra.yaml is not valid UTF-8"]),
}


def write_dynamic(name: str, folder: Path) -> list[str]:
    """Write dynamic case ``name`` into ``folder`` (with a valid lorainfra.yaml unless the case replaces it)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lorainfra.yaml").write_text(MAIN)
    make, expected = DYNAMIC[name]
    make(folder)
    return expected


def selection(folder: Path) -> Selection:
    """The environment a case runs in: the content of its ENV_FILE, if it has one."""
    from lorainfra.config.environments import Selection

    env = folder / ENV_FILE
    return Selection(env=env.read_text().strip()) if env.exists() else Selection()


def rendered(folder: Path) -> str:
    """Every diagnostic loading ``folder`` reports, exactly as the CLI prints them for ``lorainfra validate
    FOLDER`` (the folder's own path shown as <case>)."""
    from lorainfra.config.loader import load_config
    from lorainfra.errors import ConfigError

    try:
        load_config(folder, selection=selection(folder), shown=folder)  # files named as the CLI names them
    except ConfigError as exc:
        return str(exc).replace(str(folder.resolve()), "<case>").replace(str(folder), "<case>") + "\n"
    raise AssertionError(f"{folder} loads without errors")


def main_cli() -> None:
    import tempfile

    if BROKEN.exists():
        shutil.rmtree(BROKEN)
    for name, (files, expected) in sorted(CASES.items()):
        write_case(BROKEN / name, dict(files), expected)
        (BROKEN / name / GOLDEN).write_text(rendered(BROKEN / name))
    DYNAMIC_GOLDEN.mkdir(exist_ok=True)
    for name in sorted(DYNAMIC):
        with tempfile.TemporaryDirectory() as tmp:
            write_dynamic(name, Path(tmp) / name)
            (DYNAMIC_GOLDEN / f"{name}.txt").write_text(rendered(Path(tmp) / name))
    print(f"wrote {len(CASES)} cases to {BROKEN} and {len(DYNAMIC)} goldens to {DYNAMIC_GOLDEN}", file=sys.stderr)


if __name__ == "__main__":
    main_cli()
