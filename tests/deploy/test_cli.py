"""python -m app.deploy: files written on success, exit 2 and one line otherwise; and the real offline export."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest

from app.deploy import OUTPUT_NAMES, REQUIRED_OUTPUTS, StackOutputs
from app.deploy.__main__ import main
from tests import published_schemas
from tests.conftest import ROOT
from tests.deploy import fixtures as fx


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_writes_both_files_from_pulumi_json(tmp_path, capsys):
    src = tmp_path / "outputs.json"
    src.write_text(fx.pulumi_json(fx.stack_outputs()))
    code, out, err = run(capsys, "--from-pulumi-json", str(src), "--out", str(tmp_path / "web"))
    assert (code, err) == (0, "")
    assert out.splitlines() == [f"wrote {tmp_path / 'web' / 'amplify_outputs.json'}", f"wrote {tmp_path / 'web' / '.env'}"]
    assert json.loads((tmp_path / "web" / "amplify_outputs.json").read_text())["version"] == "1.4"
    assert "NEXT_PUBLIC_USER_POOL_ID=" in (tmp_path / "web" / ".env").read_text()


def test_reads_standard_input(tmp_path):
    result = subprocess.run([sys.executable, "-m", "app.deploy", "--from-pulumi-json", "-", "--out", str(tmp_path)],
                            input=fx.pulumi_json(fx.stack_outputs()), capture_output=True, text=True, cwd=ROOT,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".env").read_text().startswith("# Written by `python -m app.deploy` from standard input")


def test_missing_file_exits_2(tmp_path, capsys):
    code, out, err = run(capsys, "--from-export", str(tmp_path / "nope.json"), "--out", str(tmp_path))
    assert (code, out, err) == (2, "", f"error: {tmp_path / 'nope.json'}: file not found\n")


def test_bad_json_exits_2(tmp_path, capsys):
    (tmp_path / "o.json").write_text("{not json")
    code, _, err = run(capsys, "--from-pulumi-json", str(tmp_path / "o.json"), "--out", str(tmp_path / "w"))
    assert code == 2
    assert err == f"error: {tmp_path / 'o.json'}: not valid JSON (Expecting property name enclosed in double quotes " \
                  f"at line 1 column 2)\n"
    assert not (tmp_path / "w").exists()


def test_missing_outputs_exit_2_naming_them(tmp_path, capsys):
    values = fx.stack_outputs()
    del values["budgetName"], values["sessionClusterArn"]
    (tmp_path / "o.json").write_text(json.dumps(values))
    code, _, err = run(capsys, "--from-pulumi-json", str(tmp_path / "o.json"), "--out", str(tmp_path / "w"))
    assert code == 2
    assert err.count("\n") == 1
    assert "missing required output(s): sessionClusterArn, budgetName" in err


def test_masked_secrets_exit_2_with_the_fix(tmp_path, capsys):
    (tmp_path / "o.json").write_text(fx.pulumi_json(fx.stack_outputs(api_key=True)))
    code, _, err = run(capsys, "--from-pulumi-json", str(tmp_path / "o.json"), "--out", str(tmp_path / "w"))
    assert code == 2 and "--show-secrets" in err and err.count("\n") == 1


def test_a_source_is_required(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--out", "x"])
    assert exc.value.code == 2
    assert "one of the arguments --from-export --from-pulumi-json is required" in capsys.readouterr().err


# --- the real program's export ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def dev_doc():
    from tools import export, program

    return export.build(program.run("dev"))


def test_program_exports_only_contract_names(dev_doc):
    exported = set(dev_doc["deployment"]["resources"][0]["outputs"])
    assert exported and not exported - set(OUTPUT_NAMES), \
        f"exported outside the contract (add them to app/deploy/contract.py): {sorted(exported - set(OUTPUT_NAMES))}"


@pytest.fixture(scope="module")
def dev_export(dev_doc, tmp_path_factory):
    from tools import export

    doc = dev_doc
    stack = doc["deployment"]["resources"][0]
    missing = [n for n in REQUIRED_OUTPUTS if stack["outputs"].get(n) is None]
    if missing:
        pytest.skip(f"__main__.py does not export the contract's output(s) yet: {', '.join(missing)}")
    path = tmp_path_factory.mktemp("export") / "dev.json"
    export.write(doc, path)
    return path


def test_real_offline_export_meets_the_contract(dev_export, tmp_path):
    result = subprocess.run([sys.executable, "-m", "app.deploy", "--from-export", str(dev_export), "--out",
                             str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    schema = published_schemas.load(published_schemas.AMPLIFY_OUTPUTS)
    amplify = json.loads((tmp_path / "amplify_outputs.json").read_text())
    jsonschema.validate(amplify, schema)
    outputs = StackOutputs.from_export(json.loads(dev_export.read_text()))
    assert set(outputs.tables) == {"users", "sessions", "conversations", "messages", "agentPresets", "traceSteps", "agentUsage"}
    assert outputs.region == "us-east-1" and outputs.editor_access == "public"
