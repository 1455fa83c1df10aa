"""Benchmark `python -m policies.check` on synthetic and real-shaped stack exports, against checkov.

    python bench/policy_bench.py [--sizes 1000,10000,50000] [--real-sizes 10000,50000] [--real EXPORT]
                                 [--checkov-size 10000] [--checkov PATH] [--admin-statements 2000]

1. Synthetic exports of N resources (IAM roles/policies/attachments, Lambda functions and
   permissions, ECS task definitions and services, DynamoDB tables, log groups; some deliberately
   violating).
2. Real-shaped exports: the resources of the prod stack's offline export (inputs, outputs,
   dependencies and all; `--real`, else `python -m tools.preview --stack prod --export` is run),
   copied until there are N, each copy under its own project name in its URNs.
Each runs in a fresh process; the table shows wall and CPU seconds, peak memory and the marginal
CPU time per added resource (constant = linear). Then one RolePolicy with `--admin-statements`
`Action: "*"` statements, the pack stage of the offline preview (importing the pack and
evaluating the prod export, with pulumi already imported as in the preview), and checkov (if
found: --checkov, $CHECKOV_BIN, bench/.venv-checkov from bench/setup-checkov.sh, or PATH) on a
CloudFormation template of the same synthetic workload.
Targets: 50k real-shaped resources < 10 s and < 500 MB; 2,000 admin statements < 2 s; pack stage
< 0.2 s; >= 10x checkov's throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACK, PROJECT = "bench", "aiplatform"
ACCOUNT, REGION = "123456789012", "us-east-1"
UNIT = 10  # resources per synthetic "service"


def _urn(type_: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{type_}::{name}"


def _doc(statements: list) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _unit(i: int, provider_ref: str) -> list[dict]:
    """Ten resources of one small service; every 10th service carries violations."""
    bad = i % 10 == 0
    name = f"svc{i}"
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{name}-fn"
    trust = _doc([{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}])
    data_policy = _doc([{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
                         "Resource": [table_arn, f"{table_arn}/index/*"]},
                        {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                         "Resource": "*"}])
    broad_policy = _doc([{"Effect": "Allow", "Action": ["s3:GetObject", "iam:PassRole"], "Resource": "*"}])
    tags = {"project": PROJECT, "environment": STACK, "service": name}
    strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 1.0}]
    items = [
        ("aws:iam/role:Role", f"{name}-fn", {
            "assumeRolePolicy": trust, "tags": tags,
            "inlinePolicies": [{"name": "data", "policy": data_policy}]}),
        ("aws:iam/rolePolicy:RolePolicy", f"{name}-extra", {
            "role": f"{name}-fn", "policy": broad_policy if bad else data_policy}),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"{name}-logs", {
            "role": f"{name}-fn",
            "policyArn": ("arn:aws:iam::aws:policy/AdministratorAccess" if bad else
                          "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")}),
        ("aws:lambda/function:Function", f"{name}-fn", {
            "role": role_arn, "runtime": "python3.12", "handler": "app.handler",
            "memorySize": 4096.0 if bad else 256.0, "timeout": 30.0, "tags": tags,
            "environment": {"variables": {"TABLE_NAME": name, "CAPACITY_PROVIDER_STRATEGY": json.dumps(strategy),
                                          **({"DB_PASSWORD": "hunter2"} if bad else {})}}}),
        ("aws:lambda/permission:Permission", f"{name}-invoke", {
            "action": "lambda:InvokeFunction", "function": f"{name}-fn", "principal": "events.amazonaws.com",
            **({} if bad else {"sourceArn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"})}),
        ("aws:dynamodb/table:Table", name, {
            "billingMode": "PAY_PER_REQUEST", "hashKey": "id", "attributes": [{"name": "id", "type": "S"}],
            "pointInTimeRecovery": {"enabled": not bad}, "serverSideEncryption": {"enabled": True},
            "deletionProtectionEnabled": True, "streamEnabled": True, "streamViewType": "NEW_AND_OLD_IMAGES",
            "tags": tags}),
        ("aws:ecs/taskDefinition:TaskDefinition", f"{name}-task", {
            "family": name, "cpu": "1024", "memory": "2048", "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"], "tags": tags,
            "containerDefinitions": json.dumps([{"name": "app", "image": "public.ecr.aws/x/y:1", "essential": True,
                                                 "environment": [{"name": "PORT", "value": "8080"}]}])}),
        ("aws:ecs/service:Service", f"{name}-svc", {
            "cluster": "main", "desiredCount": 1.0, "taskDefinition": f"{name}-task", "tags": tags,
            **({"launchType": "FARGATE"} if bad else {"capacityProviderStrategies": strategy})}),
        ("aws:cloudwatch/logGroup:LogGroup", f"{name}-logs", {
            "name": f"/aws/lambda/{name}", "retentionInDays": 14.0, "tags": tags}),
        ("aws:iam/policy:Policy", f"{name}-read", {
            "policy": _doc([{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table_arn}]),
            "tags": tags}),
    ]
    return [{"urn": _urn(t, n), "custom": True, "type": t, "id": f"{n}-id", "inputs": inputs, "outputs": {},
             "provider": provider_ref} for t, n, inputs in items]


def build_export(n: int) -> dict:
    provider_urn = _urn("pulumi:providers:aws", "aws")
    provider_ref = f"{provider_urn}::provider-id"
    resources = [
        {"urn": _urn("pulumi:pulumi:Stack", f"{PROJECT}-{STACK}"), "custom": False, "type": "pulumi:pulumi:Stack"},
        {"urn": provider_urn, "custom": True, "type": "pulumi:providers:aws", "id": "provider-id",
         "inputs": {"region": REGION, "defaultTags": json.dumps({"tags": {"project": PROJECT, "environment": STACK}})}},
        {"urn": _urn("aws:budgets/budget:Budget", "monthly"), "custom": True, "type": "aws:budgets/budget:Budget",
         "id": "monthly", "provider": provider_ref,
         "inputs": {"budgetType": "COST", "timeUnit": "MONTHLY", "limitAmount": "50", "limitUnit": "USD",
                    "notifications": [{"notificationType": kind, "comparisonOperator": "GREATER_THAN",
                                       "threshold": 80.0, "thresholdType": "PERCENTAGE",
                                       "subscriberEmailAddresses": ["ops@example.com"]}
                                      for kind in ("ACTUAL", "FORECASTED")]}},
    ]
    i = 0
    while len(resources) < n:
        resources.extend(_unit(i, provider_ref))
        i += 1
    return {"version": 3, "deployment": {
        "manifest": {"time": "2026-06-01T00:00:00Z", "magic": "bench", "version": "v3.272.0"},
        "resources": resources[:n]}}


_CFN = {
    "aws:iam/role:Role": "AWS::IAM::Role", "aws:iam/rolePolicy:RolePolicy": "AWS::IAM::RolePolicy",
    "aws:iam/policy:Policy": "AWS::IAM::ManagedPolicy", "aws:lambda/function:Function": "AWS::Lambda::Function",
    "aws:lambda/permission:Permission": "AWS::Lambda::Permission", "aws:dynamodb/table:Table": "AWS::DynamoDB::Table",
    "aws:ecs/taskDefinition:TaskDefinition": "AWS::ECS::TaskDefinition", "aws:ecs/service:Service": "AWS::ECS::Service",
    "aws:cloudwatch/logGroup:LogGroup": "AWS::Logs::LogGroup", "aws:budgets/budget:Budget": "AWS::Budgets::Budget",
}


def _cfn_properties(type_: str, p: dict) -> dict:
    tags = [{"Key": k, "Value": v} for k, v in (p.get("tags") or {}).items()]
    if type_ == "aws:iam/role:Role":
        return {"AssumeRolePolicyDocument": json.loads(p["assumeRolePolicy"]), "Tags": tags,
                "Policies": [{"PolicyName": x["name"], "PolicyDocument": json.loads(x["policy"])}
                             for x in p["inlinePolicies"]]}
    if type_ == "aws:iam/rolePolicy:RolePolicy":
        return {"PolicyName": "extra", "RoleName": p["role"], "PolicyDocument": json.loads(p["policy"])}
    if type_ == "aws:iam/policy:Policy":
        return {"PolicyDocument": json.loads(p["policy"])}
    if type_ == "aws:lambda/function:Function":
        return {"Role": p["role"], "Runtime": p["runtime"], "Handler": p["handler"],
                "MemorySize": int(p["memorySize"]), "Timeout": int(p["timeout"]), "Tags": tags,
                "Code": {"ZipFile": "def handler(e, c): return e"},
                "Environment": {"Variables": p["environment"]["variables"]}}
    if type_ == "aws:lambda/permission:Permission":
        return {k2: p[k1] for k1, k2 in (("action", "Action"), ("function", "FunctionName"),
                                         ("principal", "Principal"), ("sourceArn", "SourceArn")) if k1 in p}
    if type_ == "aws:dynamodb/table:Table":
        return {"BillingMode": p["billingMode"], "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}], "Tags": tags,
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": p["pointInTimeRecovery"]["enabled"]},
                "SSESpecification": {"SSEEnabled": True}, "DeletionProtectionEnabled": True,
                "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"}}
    if type_ == "aws:ecs/taskDefinition:TaskDefinition":
        return {"Family": p["family"], "Cpu": p["cpu"], "Memory": p["memory"], "NetworkMode": "awsvpc",
                "RequiresCompatibilities": ["FARGATE"], "Tags": tags,
                "ContainerDefinitions": [{"Name": c["name"], "Image": c["image"], "Essential": True,
                                          "Environment": [{"Name": e["name"], "Value": e["value"]} for e in c["environment"]]}
                                         for c in json.loads(p["containerDefinitions"])]}
    if type_ == "aws:ecs/service:Service":
        props = {"Cluster": p["cluster"], "DesiredCount": 1, "TaskDefinition": p["taskDefinition"], "Tags": tags}
        if "launchType" in p:
            props["LaunchType"] = p["launchType"]
        else:
            props["CapacityProviderStrategy"] = [{"CapacityProvider": s["capacityProvider"], "Weight": 1}
                                                 for s in p["capacityProviderStrategies"]]
        return props
    if type_ == "aws:cloudwatch/logGroup:LogGroup":
        return {"LogGroupName": p["name"], "RetentionInDays": int(p["retentionInDays"]), "Tags": tags}
    if type_ == "aws:budgets/budget:Budget":
        return {"Budget": {"BudgetType": "COST", "TimeUnit": "MONTHLY",
                           "BudgetLimit": {"Amount": float(p["limitAmount"]), "Unit": "USD"}}}
    raise KeyError(type_)


def build_cloudformation(export: dict) -> tuple[dict, int]:
    """The same workload as a CloudFormation template; returns it and its resource count.

    Providers and the stack have no equivalent; a RolePolicyAttachment becomes an entry in its
    role's ManagedPolicyArns (CloudFormation has no standalone attachment resource).
    """
    template: dict = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}
    roles: dict[str, dict] = {}
    for i, r in enumerate(export["deployment"]["resources"]):
        if r["type"] == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
            role = roles.get(r["inputs"]["role"])
            if role is not None:
                role.setdefault("ManagedPolicyArns", []).append(r["inputs"]["policyArn"])
        elif r["type"] in _CFN:
            props = _cfn_properties(r["type"], r["inputs"])
            template["Resources"][f"R{i}"] = {"Type": _CFN[r["type"]], "Properties": props}
            if r["type"] == "aws:iam/role:Role":
                roles[r["urn"].rsplit("::", 1)[-1]] = props
    return template, len(template["Resources"])


def real_shaped_export(source: dict, n: int) -> dict:
    """`source`'s resources copied until there are `n`: copy k renames the project in every URN
    (`...::aiplatform::` -> `...::aiplatform<k>::`), so parents, providers and dependencies stay
    consistent within a copy. The stack resource is kept once."""
    resources = source["deployment"]["resources"]
    stack, body = resources[0], resources[1:]
    marker = stack["urn"].split("::")
    prefix = "::".join(marker[:2]) + "::"  # urn:pulumi:<stack>::<project>::
    text = json.dumps(body)
    out = [stack]
    k = 0
    while len(out) < n:
        out.extend(json.loads(text.replace(f'"{prefix}', f'"{prefix[:-2]}{k}::')))
        k += 1
    doc = dict(source)
    doc["deployment"] = dict(source["deployment"], resources=out[:n])
    return doc


def admin_statements_export(count: int) -> dict:
    """One RolePolicy with `count` `Action: "*"` statements (distinct Sids), plus a budget."""
    doc = build_export(3)
    statements = [{"Sid": f"S{i}", "Effect": "Allow", "Action": "*", "Resource": "*"} for i in range(count)]
    doc["deployment"]["resources"].append({
        "urn": _urn("aws:iam/rolePolicy:RolePolicy", "admin"), "custom": True, "type": "aws:iam/rolePolicy:RolePolicy",
        "id": "admin", "provider": doc["deployment"]["resources"][1]["urn"] + "::provider-id",
        "inputs": {"role": "r", "policy": _doc(statements)}})
    return doc


def _child(path: str) -> None:
    """Run the offline runner in this process and print timings and peak memory as JSON."""
    sys.path.insert(0, str(ROOT))
    start = time.perf_counter()
    from policies import check
    imported = time.perf_counter()
    with open(os.devnull, "w") as sink:
        code = check.run(path, None, None, "json", out=sink)
    done = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"exit": code, "imports": imported - start, "check": done - imported,
                      "cpu": usage.ru_utime + usage.ru_stime, "peak_rss_mb": _peak_rss_mb(usage)}))


def _peak_rss_mb(usage: resource.struct_rusage) -> float:
    """This process's peak RSS. ru_maxrss survives fork and exec on Linux, so a child would report
    the benchmark parent's peak (it builds the big exports); /proc's VmHWM starts afresh at exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return usage.ru_maxrss / 1024


def _pack_stage_child(path: str) -> None:
    """The preview's pack stage: import the pack and evaluate the export (pulumi already loaded)."""
    sys.path.insert(0, str(ROOT))
    import pulumi  # noqa: F401 - the preview has imported it before the pack stage
    doc = json.loads(Path(path).read_text())
    start, cpu = time.perf_counter(), time.process_time()
    from policies.engine import evaluate
    imported, imported_cpu = time.perf_counter(), time.process_time()
    evaluate(doc, stack="prod")
    print(json.dumps({"imports": imported - start, "evaluate": time.perf_counter() - imported,
                      "cpu": time.process_time() - cpu, "imports_cpu": imported_cpu - cpu}))


def _run_child(flag: str, path: Path) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), flag, str(path)],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    return result


def _run_check(path: Path) -> dict:
    return _run_child("--child", path)


def _find_checkov(explicit: str | None) -> str | None:
    own_venv = Path(__file__).resolve().parent / ".venv-checkov" / "bin" / "checkov"  # bench/setup-checkov.sh
    for candidate in (explicit, os.environ.get("CHECKOV_BIN"), str(own_venv), shutil.which("checkov")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _run_checkov(checkov: str, template: Path) -> tuple[float, str]:
    version = subprocess.run([checkov, "--version"], capture_output=True, text=True).stdout.strip()
    start = time.perf_counter()
    proc = subprocess.run([checkov, "-f", str(template), "--framework", "cloudformation", "--quiet",
                           "--compact", "-o", "json", "--skip-download"], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"checkov failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed, version


def _verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def _table(title: str, sizes: list[int], make, tmp: str) -> list[tuple[int, dict]]:
    print(f"\n{title}")
    print(f"{'resources':>10} {'MB':>6} {'wall s':>8} {'cpu s':>7} {'check s':>8} {'res/s (wall)':>13} "
          f"{'peak MB':>8} {'marginal cpu us/res':>20}")
    rows: list[tuple[int, dict]] = []
    for n in sizes:
        path = Path(tmp) / f"export-{title.split()[0]}-{n}.json"
        path.write_text(json.dumps(make(n)))
        r = _run_check(path)
        if r["exit"] not in (0, 1):
            raise SystemExit(f"unexpected exit {r['exit']} for {n} resources")
        rows.append((n, r))
        # Linear cost shows as a constant marginal time per added resource (start-up and imports
        # are paid once). CPU time is used: wall time moves with whatever else shares the machine.
        marginal = ""
        if len(rows) > 1:
            prev_n, prev = rows[-2]
            marginal = f"{(r['cpu'] - prev['cpu']) / (n - prev_n) * 1e6:.1f}"
        size_mb = path.stat().st_size / 2 ** 20
        print(f"{n:>10} {size_mb:>6.0f} {r['wall']:>8.2f} {r['cpu']:>7.2f} {r['check']:>8.2f} {n / r['wall']:>13.0f} "
              f"{r['peak_rss_mb']:>8.0f} {marginal:>20}")
        path.unlink()
    return rows


def _prod_export(explicit: str | None, tmp: str) -> dict:
    if explicit:
        return json.loads(Path(explicit).read_text())
    out = Path(tmp) / "prod.json"
    proc = subprocess.run([sys.executable, "-m", "tools.preview", "--stack", "prod", "--export", str(out),
                           "--no-policy"], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"offline preview of prod failed:\n{proc.stderr[-2000:]}")
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000", help="synthetic export sizes")
    parser.add_argument("--real-sizes", default="10000,50000", help="real-shaped export sizes")
    parser.add_argument("--real", help="the export to copy resources from (default: an offline preview of prod)")
    parser.add_argument("--admin-statements", type=int, default=2000)
    parser.add_argument("--checkov-size", type=int, default=10000,
                        help="resources in the checkov comparison (checkov is slow; 0 skips it)")
    parser.add_argument("--checkov", help="path of the checkov executable")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--pack-stage-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child)
        return 0
    if args.pack_stage_child:
        _pack_stage_child(args.pack_stage_child)
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        if args.sizes:
            _table("synthetic exports", [int(s) for s in args.sizes.split(",")], build_export, tmp)
        prod = _prod_export(args.real, tmp)
        if args.real_sizes:
            rows = _table(f"real-shaped exports (the prod export's {len(prod['deployment']['resources'])} "
                          "resources, copied)", [int(s) for s in args.real_sizes.split(",")],
                          lambda n: real_shaped_export(prod, n), tmp)
            n, r = rows[-1]
            print(f"{n} real-shaped resources: {r['wall']:.2f} s wall, {r['cpu']:.2f} s cpu (target < 10 s, judged "
                  f"on cpu: wall time moves with the machine's load): {_verdict(r['cpu'] < 10)}; "
                  f"peak {r['peak_rss_mb']:.0f} MB (target < 500 MB): {_verdict(r['peak_rss_mb'] < 500)}")

        if args.admin_statements > 0:
            path = Path(tmp) / "admin.json"
            path.write_text(json.dumps(admin_statements_export(args.admin_statements)))
            r = _run_check(path)
            per = r["check"] / args.admin_statements * 1e3
            print(f"\none RolePolicy with {args.admin_statements} Action \"*\" statements: {r['check']:.2f} s "
                  f"({per:.2f} ms/statement; target < 2 s): {_verdict(r['check'] < 2)}")

        prod_path = Path(tmp) / "prod-stage.json"
        prod_path.write_text(json.dumps(prod))
        stage = _run_child("--pack-stage-child", prod_path)
        total = stage["imports"] + stage["evaluate"]
        print(f"\npreview pack stage (prod, {len(prod['deployment']['resources'])} resources): {total:.2f} s "
              f"wall (import {stage['imports']:.2f} s, evaluate {stage['evaluate']:.2f} s); {stage['cpu']:.2f} s cpu "
              f"(import {stage['imports_cpu']:.2f} s) (target < 0.2 s, judged on cpu: wall time moves with the "
              f"machine's load): {_verdict(stage['cpu'] < 0.2)}")

        if args.checkov_size <= 0:
            return 0
        checkov = _find_checkov(args.checkov)
        if checkov is None:
            print("\ncheckov not found (run bench/setup-checkov.sh, or pass --checkov or set "
                  "CHECKOV_BIN): comparison skipped")
            return 0
        n = args.checkov_size
        export = build_export(n)
        template, cfn_count = build_cloudformation(export)
        cfn_path = Path(tmp) / f"template-{n}.json"
        cfn_path.write_text(json.dumps(template))
        ours_path = Path(tmp) / f"export-cmp-{n}.json"
        ours_path.write_text(json.dumps(export))
        ours = _run_check(ours_path)
        elapsed, version = _run_checkov(checkov, cfn_path)
        # Both rates count the same workload (n export resources), which credits checkov with the
        # attachments folded into roles and the provider/stack entries it never sees.
        ours_rate, checkov_rate = n / ours["wall"], n / elapsed
        print(f"\ncheckov {version}: the same workload as {cfn_count} CloudFormation resources in {elapsed:.2f} s "
              f"({checkov_rate:.0f} res/s); policies.check: {n} resources in {ours['wall']:.2f} s wall "
              f"({ours_rate:.0f} res/s)")
        ratio = ours_rate / checkov_rate
        print(f"throughput ratio policies.check / checkov = {ratio:.1f}x (target >= 10x): {_verdict(ratio >= 10)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
