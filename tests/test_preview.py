"""The offline preview reads well: counts that agree, long outputs summarised (whole under --json),
cost lines by resource name, what to do next at the end; every CLI's --help lists its exit codes."""

from __future__ import annotations

import importlib
import io
import json
import re
import subprocess
import sys

import pytest

from tools import export, preview, program


@pytest.fixture(scope="module")
def prod():
    run = program.run("prod")
    from policies.engine import evaluate

    return run, evaluate(export.build(run), stack="prod")


def test_header_export_and_pack_count_the_same_resources(prod):
    run, report = prod
    header = preview.summary(run).splitlines()[0]
    count = int(re.search(r": (\d+) resources$", header).group(1))
    assert count == len(export.build(run)["deployment"]["resources"]) == report.resources
    groups = [int(n) for n in re.findall(r"^\S.*  \((\d+)\)$", preview.summary(run), re.M)]
    assert sum(groups) == count


def test_long_outputs_are_summarised_and_json_shows_them_whole(prod):
    run, _ = prod
    text = preview.summary(run)
    outputs = text[text.index("Outputs:"):].splitlines()[1:]
    structured = [line for line in outputs if not line.split(": ", 1)[-1].startswith('"')]  # strings stay whole
    assert all(len(line) <= preview.OUTPUT_WIDTH for line in structured), max(structured, key=len)
    (tables,) = [line for line in outputs if line.startswith("    tables: {")]
    assert re.fullmatch(r"    tables: \{\d+ keys: agentPresets, .*conversations, .*users\}", tables), tables
    assert any(line.startswith("    amplifyOutputs: {") and "auth" in line for line in outputs)
    assert '    region: "us-east-1"' in outputs  # short values stay as they are
    full = preview.summary(run, full_outputs=True)
    assert json.loads(full[full.index("Outputs:") + len("Outputs:"):]) == preview._masked(run.outputs)


def test_secret_outputs_never_print(prod):
    run, _ = prod
    secret = {preview.SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": "da2-hunter2"}
    assert preview.show_output("graphqlApiKey", secret) == ["    graphqlApiKey: \"[secret]\""]
    assert "hunter2" not in "\n".join(preview.show_output("nested", {"key": secret, "pad": "x" * 200}))


def test_the_cost_table_names_resources_and_keeps_the_packs_total(prod):
    from policies.check import format_text

    _, report = prod
    out = io.StringIO()
    format_text(preview.with_short_names(report), out)
    text = out.getvalue()
    table = text[text.index("Estimated fixed monthly cost"):].split("\n\n")[0]
    assert "urn:pulumi:" not in table
    assert f"${report.cost.total:.2f}" in table
    assert "natGatewayHour x 3  network-vpc" in table
    alarms = [i for i in report.cost.items if i.item == "standardAlarmMonth"]
    assert len(alarms) > preview.COST_LINES_PER_ITEM
    (line,) = [line for line in table.splitlines() if "standardAlarmMonth" in line]
    assert f"{len(alarms)} resources (" in line


def test_the_preview_ends_with_what_to_do_next(capsys):
    assert preview.main(["--stack", "dev"]) == 0
    tail = capsys.readouterr().out.rstrip().splitlines()[-6:]
    assert tail[0] == "Next:"
    text = "\n".join(tail)
    assert "python -m tools.preview --stack dev --json" in text and "--export out/dev.json" in text
    assert ("pulumi preview --stack <org>/dev --policy-pack policies --policy-pack-config policies/config/dev.json"
            in text)
    assert '"suppressions": [{"resource": ' in text and "policies/config/dev.json" in text


@pytest.mark.parametrize("module", ["tools.preview", "tools.check_wheels", "tools.deploylint.__main__",
                                    "app.deploy.__main__", "policies.check"])
def test_every_cli_lists_its_exit_codes_in_help(module, capsys):
    with pytest.raises(SystemExit) as done:
        importlib.import_module(module).main(["--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "exit codes: 0" in text and " 2 " in text, text


def test_the_floor_imports_every_provider_module_the_program_uses():
    """bench/preview_bench.py's floor is importing the pulumi_aws modules the program uses: running
    both stacks after preload_provider_modules() must import no further one."""
    script = """
import sys
from tools import preview, program
preview.preload_provider_modules()
before = {m.split(".")[1] for m in sys.modules if m.startswith(("pulumi_aws.", "pulumi_awsx."))}
for stack in ("dev", "prod"):
    program.run(stack)
after = {m.split(".")[1] for m in sys.modules if m.startswith(("pulumi_aws.", "pulumi_awsx."))}
print(" ".join(sorted(after - before)))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=program.ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"add to preload_provider_modules: {done.stdout.strip()}"
