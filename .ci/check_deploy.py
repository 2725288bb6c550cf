#!/usr/bin/env python3
"""Static checks of the deployment files: deploy/Dockerfile, .dockerignore, both compose
files, the Traefik routing (labels) and static configuration (deploy/traefik/start.sh),
.env.example and install.sh.

    python3 .ci/check_deploy.py [--root DIR] [--compose "docker compose"]
    python3 .ci/check_deploy.py --self-test

Prints every check it makes; exits 1 when any fails. `--compose` names a Compose v2
command that can run `config` without a Docker engine; without it those checks are
skipped. `--self-test` breaks copies of the files in a temporary directory in several
ways and verifies that each break is caught.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import yaml

# The contract of the services: compose service -> (binary, PORT).
SERVICES = {
    "gateway": ("nexpay-gateway", 8081),
    "payments": ("nexpay-payments", 8082),
    "provider-adapter": ("nexpay-provider-adapter", 8083),
    "webhook-dispatcher": ("nexpay-webhook-dispatcher", 8084),
    "dashboard": ("nexpay-dashboard", 9090),
    "sandbox": ("nexpay-sandbox", 8085),
}
# Binary -> Cargo package that builds it.
BINARIES = {"nexpay": "nexpay-standalone", **{b: b for b, _ in SERVICES.values()},
            "nexpay-sandbox": "nexpay-sandbox-service"}
INFRA = ("postgres", "rabbitmq", "redis")
# Services Traefik must never route to.
UNROUTED = ("payments", "webhook-dispatcher")
# Variables the production file must take from the environment with ${VAR:?...} only.
PROD_REQUIRED = (
    "APP_DOMAIN", "DB_PASSWORD", "RABBITMQ_DEFAULT_PASS", "REDIS_PASSWORD",
    "ENCRYPTION_KEY", "WEBHOOK_SECRETS_KEY", "JWT_SECRET", "ADMIN_EMAIL", "ADMIN_PASSWORD",
    "X_WRITE_KEY", "X_READ_KEY",
)
REPLICA_VARS = {
    "gateway": "GATEWAY_REPLICAS",
    "payments": "PAYMENTS_REPLICAS",
    "provider-adapter": "PROVIDER_ADAPTER_REPLICAS",
    "webhook-dispatcher": "WEBHOOK_DISPATCHER_REPLICAS",
    "dashboard": "DASHBOARD_REPLICAS",
    "sandbox": "SANDBOX_REPLICAS",
}
# Read by libraries rather than by NexPay's own code.
EXTRA_ENV_NAMES = {"RUST_LOG"}
RESTART_POLICIES = ("always", "unless-stopped", "on-failure")

VAR_RE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>(?:[^{}]|\{[^{}]*\})*)\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class Report:
    def __init__(self, quiet: bool = False) -> None:
        self.failures: list[str] = []
        self.count = 0
        self.quiet = quiet

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        self.count += 1
        if ok:
            if not self.quiet:
                print(f"  ok    {what}")
        else:
            msg = f"{what}: {detail}" if detail else what
            self.failures.append(msg)
            print(f"  FAIL  {msg}")
        return ok

    def section(self, title: str) -> None:
        if not self.quiet:
            print(f"\n[{title}]")


# --- helpers ----------------------------------------------------------------------------


def interpolations(text: str):
    """(name, op, arg) of every ${VAR...} / $VAR in a compose string, nested included."""
    text = text.replace("$$", "")
    for m in VAR_RE.finditer(text):
        if m.group("bare"):
            yield m.group("bare"), None, ""
        else:
            arg = m.group("arg") or ""
            yield m.group("braced"), m.group("op"), arg
            yield from interpolations(arg)


def strings(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(k, str):
                yield k
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)
    elif isinstance(node, str):
        yield node


def resolve(text: str) -> str:
    """A compose string with each ${VAR...} replaced by a recognisable placeholder."""
    def sub(m):
        name = m.group("braced") or m.group("bare")
        if m.group("op") in (":-", "-"):
            return resolve(m.group("arg"))
        return "{" + name + "}"
    return VAR_RE.sub(sub, text.replace("$$", "$"))


def as_dict(value) -> dict:
    """Compose lists of KEY=VALUE (environment, labels) or mappings, as a dict."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    out = {}
    for item in value:
        k, _, v = str(item).partition("=")
        out[k] = v
    return out


def command_words(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def depends(svc: dict) -> dict:
    d = svc.get("depends_on") or {}
    if isinstance(d, list):
        return {name: {} for name in d}
    return {k: (v or {}) for k, v in d.items()}


def service_networks(svc: dict) -> list[str]:
    n = svc.get("networks")
    if n is None:
        return ["default"]
    return list(n) if isinstance(n, (list, dict)) else []


def documented_vars(env_example: Path) -> set[str]:
    names = set()
    for line in env_example.read_text().splitlines():
        m = re.match(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", line)
        if m:
            names.add(m.group(1))
    return names


def config_names(root: Path) -> set[str]:
    """Environment variables NexPay's code reads (configuration and service wiring)."""
    names = set(EXTRA_ENV_NAMES)
    # The configuration crate names each variable as a string literal (src.get("PORT"),
    # legacy_key(src, "X_WRITE_KEY", ...)); elsewhere only direct reads count.
    config_dir = root / "crates" / "config" / "src"
    for f in config_dir.rglob("*.rs") if config_dir.is_dir() else []:
        if f.name != "tests.rs" and "tests" not in f.parts:
            names.update(re.findall(r'"([A-Z][A-Z0-9]*_[A-Z0-9_]+|[A-Z]{4,})"', f.read_text(errors="replace")))
    pattern = re.compile(r'(?:env::var|env::var_os|var_os)\(\s*"([A-Z][A-Z0-9_]+)"')
    dirs = [root / "crates" / "runtime" / "src"] + sorted((root / "services").glob("*/src"))
    for d in dirs:
        for f in d.rglob("*.rs") if d.is_dir() else []:
            names.update(pattern.findall(f.read_text(errors="replace")))
    return names


def workspace_binaries(root: Path) -> dict[str, str]:
    """Binary name -> package, for the workspace members."""
    ws = tomllib.loads((root / "Cargo.toml").read_text())
    bins = {}
    for member in ws.get("workspace", {}).get("members", []):
        manifest = root / member / "Cargo.toml"
        if not manifest.is_file():
            continue
        pkg = tomllib.loads(manifest.read_text())
        name = pkg.get("package", {}).get("name")
        for b in pkg.get("bin", []):
            bins[b["name"]] = name
        if (root / member / "src" / "main.rs").is_file() and not any(
            b.get("path") == "src/main.rs" for b in pkg.get("bin", [])
        ):
            bins[name] = name
        for f in (root / member / "src" / "bin").glob("*.rs"):
            bins[f.stem] = name
    return bins


def traefik_labels(svc: dict) -> dict:
    return {k: resolve(v) for k, v in as_dict(svc.get("labels")).items() if k.startswith("traefik.")}


def env_of(svc: dict) -> dict:
    return {k: resolve(v) for k, v in as_dict(svc.get("environment")).items()}


# --- checks -----------------------------------------------------------------------------


def check_dockerfile(r: Report, root: Path) -> None:
    r.section("deploy/Dockerfile and .dockerignore")
    path = root / "deploy" / "Dockerfile"
    if not r.check(path.is_file(), "deploy/Dockerfile exists"):
        return
    text = path.read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    r.check(len(stages) >= 2, "multi-stage build", f"{len(stages)} FROM line(s)")
    runtime = text[[m.start() for m in re.finditer(r"^FROM\s", text, re.M)][-1]:]
    users = re.findall(r"^USER\s+(\S+)", runtime, re.M)
    r.check(bool(users) and users[-1].split(":")[0] not in ("root", "0"),
            "runtime stage runs as a non-root USER", f"USER lines: {users}")
    r.check("ca-certificates" in runtime, "runtime stage installs ca-certificates")
    packages = set(re.findall(r"-p\s+([a-z0-9-]+)", text))
    bins = workspace_binaries(root)
    for binary, package in BINARIES.items():
        r.check(package in packages, f"Dockerfile builds package {package}",
                f"packages built: {sorted(packages)}")
        installed = re.search(r"for bin in ([^;]*);", text.replace("\\\n", " "))
        r.check(installed is not None and binary in installed.group(1).split(),
                f"Dockerfile installs binary {binary}",
                f"install loop: {installed.group(1).split() if installed else 'not found'}")
        r.check(bins.get(binary) == package,
                f"workspace package {package} builds binary {binary}",
                f"found {bins.get(binary)!r}")
    cmd = re.findall(r"^CMD\s+(.*)$", runtime, re.M)
    r.check(bool(cmd) and '"nexpay"' in cmd[-1], "default CMD is the nexpay binary", f"CMD: {cmd}")
    r.check(not re.search(r"^ENTRYPOINT\s", runtime, re.M),
            "no ENTRYPOINT (compose's command names the binary)")
    ignore = root / ".dockerignore"
    if r.check(ignore.is_file(), ".dockerignore exists at the build context root"):
        entries = {ln.strip().strip("/") for ln in ignore.read_text().splitlines()}
        for must in ("target", ".git", "data", ".env"):
            r.check(must in entries, f".dockerignore excludes {must}")


def check_compose_common(r: Report, root: Path, name: str, doc: dict, documented: set[str],
                         known_env: set[str], prod: bool) -> None:
    services = doc.get("services") or {}
    r.section(f"{name}: structure")
    declared_volumes = set((doc.get("volumes") or {}).keys())
    declared_networks = set((doc.get("networks") or {}).keys()) | {"default"}
    for svc_name in list(SERVICES) + list(INFRA):
        r.check(svc_name in services, f"service {svc_name} present")
    for svc_name, svc in services.items():
        build = svc.get("build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            path = (root / context / dockerfile).resolve()
            r.check(path.is_file(), f"{svc_name}: build.dockerfile {dockerfile} exists",
                    f"missing {path}")
        for dep, spec in depends(svc).items():
            r.check(dep in services, f"{svc_name}: depends_on {dep} exists")
            if dep in services:
                r.check(spec.get("condition") == "service_healthy",
                        f"{svc_name}: waits for {dep} to be healthy",
                        f"condition is {spec.get('condition')!r}")
        hc = svc.get("healthcheck") or {}
        r.check(bool(hc.get("test")) and not hc.get("disable")
                and command_words(hc.get("test"))[:1] != ["NONE"],
                f"{svc_name}: has a healthcheck")
        for vol in svc.get("volumes") or []:
            source = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
            if source and not source.startswith((".", "/", "~")):
                r.check(source in declared_volumes, f"{svc_name}: volume {source} is declared")
            elif source.startswith("."):
                r.check((root / source).exists(), f"{svc_name}: bind mount {source} exists")
        for net in service_networks(svc):
            r.check(net in declared_networks, f"{svc_name}: network {net} is declared")

    r.section(f"{name}: variables")
    uses: dict[str, set] = {}
    for s in strings(doc):
        for var, op, _ in interpolations(s):
            uses.setdefault(var, set()).add(op)
    if not uses:
        r.check(True, "no ${VAR} interpolation (self-contained file)")
    for var, ops in sorted(uses.items()):
        defaulted = ops <= {":-", "-"}
        r.check(var in documented or defaulted,
                f"${{{var}}} is documented in .env.example or has a default",
                f"used as {sorted(o or 'plain' for o in ops)}")
    if prod:
        for var in PROD_REQUIRED:
            ops = uses.get(var, set())
            r.check(ops == {":?"}, f"{var} is required (${{{var}:?...}}), never defaulted",
                    f"used as {sorted(o or 'plain' for o in ops) or 'never'}")

    r.section(f"{name}: NexPay services")
    for svc_name, (binary, port) in SERVICES.items():
        svc = services.get(svc_name)
        if svc is None:
            continue
        words = command_words(svc.get("entrypoint")) + command_words(svc.get("command"))
        r.check(bool(words) and words[0] in BINARIES,
                f"{svc_name}: command names a NexPay binary", f"command: {words}")
        r.check(words[:1] == [binary], f"{svc_name}: runs {binary}", f"command: {words}")
        env = env_of(svc)
        r.check(env.get("PORT") == str(port), f"{svc_name}: PORT={port}",
                f"PORT is {env.get('PORT')!r}")
        unknown = sorted(k for k in env if k not in known_env)
        r.check(not unknown, f"{svc_name}: every environment variable is one NexPay reads",
                f"unknown: {unknown}")
        holds_key = "ENCRYPTION_KEY" in env
        r.check(holds_key == (svc_name == "provider-adapter"),
                f"{svc_name}: ENCRYPTION_KEY given only to provider-adapter",
                "has it" if holds_key else "lacks it")
        holds_webhook_key = "WEBHOOK_SECRETS_KEY" in env
        r.check(holds_webhook_key == (svc_name in ("dashboard", "webhook-dispatcher")),
                f"{svc_name}: WEBHOOK_SECRETS_KEY given only to dashboard and webhook-dispatcher",
                "has it" if holds_webhook_key else "lacks it")
        expected_mode = "production" if prod else "development"
        r.check(env.get("NEXPAY_ENV") == expected_mode, f"{svc_name}: NEXPAY_ENV={expected_mode}")
        for url_var, scheme, host in (("DATABASE_URL", "postgres://", "@postgres:5432/"),
                                      ("AMQP_URL", "amqp://", "@rabbitmq:5672/"),
                                      ("REDIS_URL", "redis://", "@redis:6379")):
            value = env.get(url_var, "")
            r.check(value.startswith(scheme) and host in value,
                    f"{svc_name}: {url_var} points at the {host.strip('@:/').split(':')[0]} service",
                    f"{url_var}={value!r}")
        test = " ".join(command_words((svc.get("healthcheck") or {}).get("test")))
        r.check(f"nexpay health --url http://127.0.0.1:{port}/health/ready" in test,
                f"{svc_name}: healthcheck probes /health/ready on its PORT", f"test: {test!r}")
        if svc.get("build") is None:
            r.check(False, f"{svc_name}: builds from deploy/Dockerfile", "no build section")
        deps = depends(svc)
        for infra in INFRA:
            r.check(infra in deps, f"{svc_name}: depends_on {infra}")


def check_routing(r: Report, root: Path, name: str, doc: dict, prod: bool) -> None:
    services = doc.get("services") or {}
    r.section(f"{name}: Traefik routing")
    routers = {}  # router -> (compose service, labels of that router)
    for svc_name, svc in services.items():
        labels = traefik_labels(svc)
        if not labels:
            continue
        r.check(labels.get("traefik.enable") == "true", f"{svc_name}: traefik.enable=true")
        lb_ports = {}
        for k, v in labels.items():
            m = re.match(r"traefik\.http\.services\.([^.]+)\.loadbalancer\.server\.port$", k)
            if m:
                lb_ports[m.group(1)] = v
        env = env_of(svc)
        for k, v in labels.items():
            m = re.match(r"traefik\.http\.routers\.([^.]+)\.(.+)$", k)
            if m:
                routers.setdefault(m.group(1), (svc_name, {}))[1][m.group(2)] = v
        for router, (owner, props) in routers.items():
            if owner != svc_name:
                continue
            target = props.get("service")
            if target is None and len(lb_ports) == 1:
                target = next(iter(lb_ports))
            r.check(target in lb_ports,
                    f"router {router}: its service is defined on {svc_name}",
                    f"service {target!r}, defined: {sorted(lb_ports)}")
            if target in lb_ports:
                r.check(lb_ports[target] == env.get("PORT"),
                        f"router {router}: loadbalancer.server.port equals {svc_name}'s PORT",
                        f"port {lb_ports[target]!r}, PORT {env.get('PORT')!r}")
            r.check(str(props.get("priority", "")).isdigit(),
                    f"router {router}: explicit numeric priority")

    # Routers of the file provider (dynamic configuration files), if any.
    for f in sorted((root / "deploy" / "traefik").glob("**/*.y*ml")):
        dyn = yaml.safe_load(f.read_text()) or {}
        http = dyn.get("http") if isinstance(dyn, dict) else None
        if not isinstance(http, dict):
            continue
        lb = http.get("services") or {}
        for router, props in (http.get("routers") or {}).items():
            target = props.get("service")
            urls = [s.get("url", "") for s in ((lb.get(target) or {}).get("loadBalancer") or {}).get("servers", [])]
            r.check(bool(urls), f"{f.name}: router {router} has a service with servers")
            for url in urls:
                m = re.match(r"https?://([^:/]+):(\d+)", url)
                host, port = (m.group(1), m.group(2)) if m else (None, None)
                r.check(host in services, f"{f.name}: router {router} targets a compose service",
                        f"url {url}")
                if host in services:
                    r.check(port == env_of(services[host]).get("PORT"),
                            f"{f.name}: router {router} uses {host}'s PORT", f"url {url}")
                    routers[router] = (host, props)

    for svc_name in UNROUTED:
        r.check(all(owner != svc_name for owner, _ in routers.values()),
                f"{svc_name} has no public route")
    if not prod:
        return

    def find(pred):
        return [(n, o, p) for n, (o, p) in routers.items() if pred(p.get("rule", ""))]

    webhook = find(lambda rule: "PathPrefix(`/api/v1/webhook`)" in rule)
    api = find(lambda rule: "PathPrefix(`/api`)" in rule)
    catch_all = find(lambda rule: "Path" not in rule or "PathPrefix(`/`)" in rule)
    for label, found, owner in (("/api/v1/webhook", webhook, "provider-adapter"),
                                ("/api", api, "gateway"),
                                ("everything else", catch_all, "dashboard")):
        r.check(len(found) == 1, f"exactly one router for {label}",
                f"found {[n for n, _, _ in found]}")
        if len(found) == 1:
            r.check(found[0][1] == owner, f"{label} is routed to {owner}",
                    f"routed to {found[0][1]}")
    sandbox = find(lambda rule: "PathPrefix(`/sandbox`)" in rule)
    r.check(len(sandbox) == 1 and sandbox[0][1] == "sandbox",
            "/sandbox is routed to the sandbox (provider simulators)",
            f"found {[(n, o) for n, o, _ in sandbox]}")
    if len(webhook) == len(api) == len(catch_all) == 1:
        pw, pa, pd = (int(x[0][2].get("priority", "0") or 0) for x in (webhook, api, catch_all))
        r.check(pw > pa > pd, "priorities: webhook > api > dashboard",
                f"webhook {pw}, api {pa}, dashboard {pd}")
        hosts = {re.sub(r"\s*&&.*", "", x[0][2].get("rule", "")) if "Host(" in x[0][2].get("rule", "") else None
                 for x in (webhook, api, catch_all)}
        r.check(len(hosts) == 1 and None not in hosts,
                "the three routers match the same Host(APP_DOMAIN)", f"hosts: {hosts}")
        r.check(hosts == {"Host(`{APP_DOMAIN}`)"}, "routers match Host(`${APP_DOMAIN}`)",
                f"hosts: {hosts}")


def check_prod(r: Report, root: Path, doc: dict) -> None:
    services = doc.get("services") or {}
    networks = doc.get("networks") or {}
    r.section("docker-compose-prod.yml: production rules")
    for svc_name, svc in services.items():
        r.check(svc.get("restart") in RESTART_POLICIES, f"{svc_name}: restart policy",
                f"restart is {svc.get('restart')!r}")
        opts = ((svc.get("logging") or {}).get("options") or {})
        r.check("max-size" in opts and "max-file" in opts, f"{svc_name}: log rotation options")
        if svc_name != "traefik":
            r.check(not svc.get("ports"), f"{svc_name}: publishes no port (Traefik does)",
                    f"ports: {svc.get('ports')}")
        r.check(svc.get("network_mode") is None, f"{svc_name}: no network_mode override")
    for infra in INFRA:
        svc = services.get(infra, {})
        nets = service_networks(svc)
        r.check(bool(nets) and all((networks.get(n) or {}).get("internal") is True for n in nets),
                f"{infra}: only on internal networks", f"networks: {nets}")
        r.check(not svc.get("ports"), f"{infra}: no published ports", f"ports: {svc.get('ports')}")
    pg_vols = [v for v in services.get("postgres", {}).get("volumes") or []
               if str(v).split(":")[1:2] == ["/var/lib/postgresql/data"]]
    r.check(bool(pg_vols) and not str(pg_vols[0]).startswith(("/", ".")),
            "postgres: data on a named volume", f"volumes: {pg_vols}")
    rmq_vols = [v for v in services.get("rabbitmq", {}).get("volumes") or []
                if str(v).split(":")[1:2] == ["/var/lib/rabbitmq"]]
    r.check(bool(rmq_vols), "rabbitmq: data on a volume (durable queues survive restarts)")
    for svc_name, var in REPLICA_VARS.items():
        replicas = str(((services.get(svc_name) or {}).get("deploy") or {}).get("replicas", ""))
        r.check(re.fullmatch(rf"\$\{{{var}:-\d+\}}", replicas) is not None,
                f"{svc_name}: replicas settable with {var}", f"replicas: {replicas!r}")

    traefik = services.get("traefik")
    if not r.check(traefik is not None, "traefik service present"):
        return
    ports = [str(p) for p in traefik.get("ports") or []]
    r.check(any(p.split(":")[-1] == "80" for p in ports), "traefik publishes 80", f"{ports}")
    r.check(any(p.split(":")[-1] == "443" for p in ports), "traefik publishes 443", f"{ports}")
    mounts = [str(v) for v in traefik.get("volumes") or []]
    r.check(any(":/letsencrypt" in m and not m.startswith(("/", ".")) for m in mounts),
            "traefik: ACME certificates on a named volume", f"{mounts}")
    r.check(any(m.startswith("/var/run/docker.sock:") and m.endswith(":ro") for m in mounts),
            "traefik: Docker socket mounted read-only", f"{mounts}")
    script = root / "deploy" / "traefik" / "start.sh"
    words = command_words(traefik.get("entrypoint")) + command_words(traefik.get("command"))
    r.check(any(w.endswith("/start.sh") for w in words)
            and any(m.startswith("./deploy/traefik/start.sh:") for m in mounts),
            "traefik: static configuration from deploy/traefik/start.sh", f"entrypoint: {words}")
    env = env_of(traefik)
    r.check(env.get("TRAEFIK_ENABLE_SSL", "").startswith("{TRAEFIK_ENABLE_SSL}")
            or env.get("TRAEFIK_ENABLE_SSL") == "false",
            "traefik: TRAEFIK_ENABLE_SSL comes from .env")
    r.check("ACME_EMAIL" in env, "traefik: ACME_EMAIL comes from .env")
    if script.is_file():
        text = script.read_text()
        m = re.search(r"TRAEFIK_DOCKER_NETWORK:-([A-Za-z0-9_.-]+)", text)
        provider_net = m.group(1) if m else None
        names = {n: (spec or {}).get("name", f"{doc.get('name', '')}_{n}") for n, spec in networks.items()}
        routed = [n for n, s in services.items() if traefik_labels(s)]
        for svc_name in routed:
            shared = [names.get(n) for n in service_networks(services[svc_name])
                      if n in service_networks(traefik)]
            r.check(provider_net in shared,
                    f"{svc_name}: on the network Traefik uses ({provider_net})",
                    f"shared networks: {shared}")


def run_start_script(script: Path, env: dict) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        stub = Path(tmp) / "traefik"
        stub.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
        stub.chmod(0o755)
        full = {"PATH": f"{tmp}:/usr/bin:/bin", **env}
        p = subprocess.run(["sh", str(script)], env=full, capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr


def check_traefik_static(r: Report, root: Path) -> None:
    r.section("deploy/traefik/start.sh: static configuration")
    script = root / "deploy" / "traefik" / "start.sh"
    if not r.check(script.is_file(), "deploy/traefik/start.sh exists"):
        return
    rc, out = run_start_script(script, {"TRAEFIK_ENABLE_SSL": "false"})
    flags = out.splitlines()
    r.check(rc == 0 and bool(flags), "TRAEFIK_ENABLE_SSL=false starts traefik", out)
    r.check("--entrypoints.web.address=:80" in flags, "plain HTTP: entry point :80")
    r.check(not any("websecure" in f or "acme" in f for f in flags),
            "plain HTTP: no :443 entry point, no Let's Encrypt")
    r.check("--providers.docker.exposedbydefault=false" in flags,
            "only containers with traefik.enable=true are exposed")
    r.check("--ping=true" in flags, "ping enabled (container health check)")
    rc, out = run_start_script(script, {"TRAEFIK_ENABLE_SSL": "true", "ACME_EMAIL": "ops@example.com"})
    flags = out.splitlines()
    r.check(rc == 0, "TRAEFIK_ENABLE_SSL=true starts traefik", out)
    for flag in ("--entrypoints.websecure.address=:443",
                 "--entrypoints.websecure.http.tls.certresolver=letsencrypt",
                 "--entrypoints.web.http.redirections.entrypoint.to=websecure",
                 "--certificatesresolvers.letsencrypt.acme.email=ops@example.com",
                 "--certificatesresolvers.letsencrypt.acme.storage=/letsencrypt/acme.json",
                 "--certificatesresolvers.letsencrypt.acme.httpchallenge.entrypoint=web"):
        r.check(flag in flags, f"HTTPS: {flag}")
    rc, _ = run_start_script(script, {"TRAEFIK_ENABLE_SSL": "true"})
    r.check(rc != 0, "HTTPS without ACME_EMAIL is refused")
    rc, _ = run_start_script(script, {"TRAEFIK_ENABLE_SSL": "maybe"})
    r.check(rc != 0, "an invalid TRAEFIK_ENABLE_SSL is refused")


def weak_token(s: str) -> bool:
    lower = s.lower()
    examples = ("changeme", "change-me", "secret", "your-secret", "jwt_secret", "nexpay")
    return len(s) < 32 or len(set(s)) < 10 or any(e in lower for e in examples)


def read_env(path: Path) -> dict:
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def check_install(r: Report, root: Path, prod_doc: dict, compose: list[str] | None) -> None:
    r.section("install.sh: generated configuration (write_config in a temporary directory)")
    script = root / "install.sh"
    if not r.check(script.is_file(), "install.sh exists"):
        return
    r.check(os.access(script, os.X_OK), "install.sh is executable")
    text = script.read_text()
    r.check(text.startswith("#!/usr/bin/env bash") or text.startswith("#!/bin/bash"), "bash shebang")
    r.check("set -euo pipefail" in text, "install.sh uses set -euo pipefail")
    required = sorted({v for s in strings(prod_doc) for v, op, _ in interpolations(s) if op == ":?"})
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "nexpay"
        d.mkdir()
        creds = Path(tmp) / "root" / "nexpay-credentials.txt"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp,
               "NEXPAY_DIR": str(d), "NEXPAY_CREDENTIALS": str(creds)}
        cmd = ["bash", "-c", 'source "$1" && write_config pay.example.com', "check", str(script)]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if not r.check(p.returncode == 0, "write_config runs", p.stderr[-2000:]):
            return
        env_file = d / ".env"
        r.check(env_file.is_file() and stat.S_IMODE(env_file.stat().st_mode) == 0o600, ".env has mode 0600")
        r.check(creds.is_file() and stat.S_IMODE(creds.stat().st_mode) == 0o600,
                "credentials file has mode 0600")
        first = read_env(env_file)
        missing = [v for v in required if not first.get(v)]
        r.check(not missing, "every variable the prod file requires is in the generated .env",
                f"missing: {missing}")
        r.check(re.fullmatch(r"nxp_sk_live_[0-9A-Za-z]{43}", first.get("X_WRITE_KEY", "")) is not None,
                "X_WRITE_KEY has the format nxp_sk_live_<43 base62>")
        r.check(re.fullmatch(r"nxp_pk_live_[0-9A-Za-z]{43}", first.get("X_READ_KEY", "")) is not None,
                "X_READ_KEY has the format nxp_pk_live_<43 base62>")
        try:
            key = base64.b64decode(first.get("ENCRYPTION_KEY", ""), validate=True)
        except ValueError:
            key = b""
        r.check(len(key) == 32 and len(set(key)) > 1, "ENCRYPTION_KEY is 32 random bytes in base64")
        r.check(not weak_token(first.get("JWT_SECRET", "")), "JWT_SECRET passes the production strength rule")
        r.check(len(first.get("ADMIN_PASSWORD", "")) >= 20, "ADMIN_PASSWORD is a 20+ character passphrase")
        for v in ("DB_PASSWORD", "RABBITMQ_DEFAULT_PASS", "REDIS_PASSWORD"):
            r.check(re.fullmatch(r"[0-9A-Za-z]{24,}", first.get(v, "")) is not None,
                    f"{v}: 24+ letters and digits (safe inside URLs)")
        secrets = [first.get(v, "") for v in ("DB_PASSWORD", "RABBITMQ_DEFAULT_PASS", "REDIS_PASSWORD",
                                              "ENCRYPTION_KEY", "JWT_SECRET", "ADMIN_PASSWORD",
                                              "X_WRITE_KEY", "X_READ_KEY")]
        r.check(len(set(secrets)) == len(secrets), "every secret is different")
        r.check(not any(s and s in p.stdout + p.stderr for s in secrets), "no secret printed")
        ctext = creds.read_text() if creds.is_file() else ""
        r.check(all(first.get(v, "\0") in ctext for v in ("ADMIN_PASSWORD", "X_WRITE_KEY", "X_READ_KEY")),
                "credentials file holds the admin password and the live keys")
        r.check(first.get("PUBLIC_URL") == "https://pay.example.com" and first.get("TRAEFIK_ENABLE_SSL") == "true",
                "HTTPS by default: PUBLIC_URL=https://<domain>")
        env2 = {**env, "TRAEFIK_ENABLE_SSL": "false"}
        p = subprocess.run(cmd, env=env2, capture_output=True, text=True)
        second = read_env(env_file)
        r.check(p.returncode == 0 and all(second.get(k) == first.get(k) for k in
                                          ("DB_PASSWORD", "RABBITMQ_DEFAULT_PASS", "REDIS_PASSWORD",
                                           "ENCRYPTION_KEY", "JWT_SECRET", "ADMIN_PASSWORD",
                                           "X_WRITE_KEY", "X_READ_KEY")),
                "a second run keeps every secret")
        r.check(second.get("PUBLIC_URL") == "http://pay.example.com", "TRAEFIK_ENABLE_SSL=false gives http://")
        if compose:
            r.section("docker compose config (interpolation and schema, no engine needed)")
            clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp}
            for f in ("docker-compose-dev.yml",):
                p = subprocess.run(compose + ["-f", str(root / f), "config", "-q"],
                                   env=clean, capture_output=True, text=True)
                r.check(p.returncode == 0, f"{f}: config is valid", p.stderr.strip())
            prod = str(root / "docker-compose-prod.yml")
            p = subprocess.run(compose + ["-f", prod, "--env-file", str(env_file), "config", "-q"],
                               env=clean, capture_output=True, text=True)
            r.check(p.returncode == 0, "docker-compose-prod.yml: valid with install.sh's .env",
                    p.stderr.strip())
            empty = Path(tmp) / "empty.env"
            empty.write_text("")
            p = subprocess.run(compose + ["-f", prod, "--env-file", str(empty), "config", "-q"],
                               env=clean, capture_output=True, text=True)
            r.check(p.returncode != 0 and "required variable" in p.stderr,
                    "docker-compose-prod.yml: refused without the secrets", p.stderr.strip())


def run_checks(root: Path, compose: list[str] | None, quiet: bool = False) -> Report:
    r = Report(quiet)
    documented = documented_vars(root / ".env.example")
    known_env = config_names(root)
    check_dockerfile(r, root)
    docs = {}
    for name, prod in (("docker-compose-dev.yml", False), ("docker-compose-prod.yml", True)):
        path = root / name
        if not r.check(path.is_file(), f"{name} exists"):
            continue
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            r.check(False, f"{name} parses as YAML", str(e))
            continue
        docs[name] = doc
        check_compose_common(r, root, name, doc, documented, known_env, prod)
        check_routing(r, root, name, doc, prod)
        if prod:
            check_prod(r, root, doc)
        else:
            r.section(f"{name}: development rules")
            services = doc.get("services") or {}
            for svc_name, svc in services.items():
                for p in svc.get("ports") or []:
                    r.check(str(p).startswith("127.0.0.1:"), f"{svc_name}: port {p} bound to 127.0.0.1")
            for svc_name, port in (("dashboard", 9090), ("gateway", 8081)):
                ports = [str(p) for p in (services.get(svc_name) or {}).get("ports") or []]
                r.check(any(p.split(":")[-2:] == [str(port), str(port)] for p in ports),
                        f"{svc_name} reachable at localhost:{port}", f"ports: {ports}")
    check_traefik_static(r, root)
    if "docker-compose-prod.yml" in docs:
        check_install(r, root, docs["docker-compose-prod.yml"], compose)
    if compose is None and not quiet:
        print("\n  skip  docker compose config: no Compose v2 command available")
    return r


# --- self-test --------------------------------------------------------------------------

FILES = (".env.example", ".dockerignore", "Cargo.toml", "install.sh", "docker-compose-dev.yml",
         "docker-compose-prod.yml", "deploy", "crates/config/src", "crates/runtime/src", "services")

# (description, file, old, new, expected failure): each break must be reported.
MUTATIONS = (
    ("webhook router on the wrong port", "docker-compose-prod.yml",
     'nexpay-provider-adapter.loadbalancer.server.port: "8083"',
     'nexpay-provider-adapter.loadbalancer.server.port: "8080"',
     "router nexpay-webhook: loadbalancer.server.port equals"),
    ("webhook less specific than /api", "docker-compose-prod.yml",
     'nexpay-webhook.priority: "300"', 'nexpay-webhook.priority: "150"',
     "priorities: webhook > api > dashboard"),
    ("router to a service that does not exist", "docker-compose-prod.yml",
     "nexpay-api.service: nexpay-gateway", "nexpay-api.service: nexpay-gateway-v2",
     "router nexpay-api: its service is defined on gateway"),
    ("/api routed to the dashboard", "docker-compose-prod.yml",
     'traefik.http.routers.nexpay-dashboard.rule: "Host(`${APP_DOMAIN:?APP_DOMAIN is required}`)"',
     'traefik.http.routers.nexpay-dashboard.rule: "Host(`${APP_DOMAIN:?APP_DOMAIN is required}`) && PathPrefix(`/api`)"',
     "exactly one router for /api"),
    ("PostgreSQL port published in production", "docker-compose-prod.yml",
     "    shm_size: 256mb\n", "    shm_size: 256mb\n    ports:\n      - \"5432:5432\"\n",
     "postgres: no published ports"),
    ("Redis on a non-internal network", "docker-compose-prod.yml",
     "      REDISCLI_AUTH: ${REDIS_PASSWORD:?REDIS_PASSWORD is required; run install.sh or set it in .env}\n    networks:\n      - backend\n",
     "      REDISCLI_AUTH: ${REDIS_PASSWORD:?REDIS_PASSWORD is required; run install.sh or set it in .env}\n    networks:\n      - backend\n      - edge\n",
     "redis: only on internal networks"),
    ("service without restart policy", "docker-compose-prod.yml",
     "    restart: unless-stopped\n    # A cache", "    # A cache",
     "redis: restart policy"),
    ("undocumented variable", "docker-compose-prod.yml",
     "RUST_LOG: ${RUST_LOG:-info}", "RUST_LOG: ${RUST_LOG:-info}\n  PUBLIC_URL: ${UNDOCUMENTED_VAR}",
     "${UNDOCUMENTED_VAR} is documented"),
    ("secret with a default", "docker-compose-prod.yml",
     "JWT_SECRET: ${JWT_SECRET:?JWT_SECRET is required (openssl rand -base64 48)}",
     "JWT_SECRET: ${JWT_SECRET:-insecure-default}",
     "JWT_SECRET is required"),
    ("replicas not settable", "docker-compose-prod.yml",
     "replicas: ${WEBHOOK_DISPATCHER_REPLICAS:-1}", "replicas: 1",
     "webhook-dispatcher: replicas settable"),
    ("wrong binary", "docker-compose-prod.yml",
     'command: ["nexpay-payments"]', 'command: ["nexpay-payment"]',
     "payments: command names a NexPay binary"),
    ("wrong PORT", "docker-compose-prod.yml",
     'PORT: "8084"', 'PORT: "8085"', "webhook-dispatcher: PORT=8084"),
    ("missing Dockerfile", "docker-compose-dev.yml",
     "dockerfile: deploy/Dockerfile", "dockerfile: deploy/Dockerfile.missing",
     "build.dockerfile deploy/Dockerfile.missing exists"),
    ("unknown depends_on", "docker-compose-dev.yml",
     "    rabbitmq:\n      condition: service_healthy\n",
     "    rabbitmq:\n      condition: service_healthy\n    kafka:\n      condition: service_healthy\n",
     "depends_on kafka exists"),
    ("misspelt configuration variable", "docker-compose-dev.yml",
     "  AMQP_URL: amqp://", "  AMPQ_URL: amqp://", "unknown: ['AMPQ_URL']"),
    ("healthcheck removed", "docker-compose-dev.yml",
     'test: ["CMD", "redis-cli", "ping"]', "disable: true", "redis: has a healthcheck"),
    ("Dockerfile without a binary", "deploy/Dockerfile",
     "nexpay-dashboard nexpay-sandbox; do", "nexpay-dashboard; do",
     "Dockerfile installs binary nexpay-sandbox"),
    ("simulators unrouted", "docker-compose-prod.yml",
     "PathPrefix(`/sandbox`)", "PathPrefix(`/simulators`)",
     "/sandbox is routed to the sandbox"),
    ("Let's Encrypt in plain HTTP mode", "deploy/traefik/start.sh",
     "    false | 0 | no | off | \"\")\n        ;;",
     "    false | 0 | no | off | \"\")\n        set -- \"$@\" --entrypoints.websecure.address=:443\n        ;;",
     "plain HTTP: no :443 entry point"),
    ("API key in the wrong format", "install.sh",
     "printf 'nxp_%s_live_%s' \"$1\" \"$(random_base62 43)\"",
     "printf 'nxp_%s_live_%s' \"$1\" \"$(random_base62 40)\"",
     "X_WRITE_KEY has the format"),
    ("encryption key shared with every service", "docker-compose-prod.yml",
     "  JWT_SECRET: ${JWT_SECRET:?JWT_SECRET is required (openssl rand -base64 48)}\n",
     "  JWT_SECRET: ${JWT_SECRET:?JWT_SECRET is required (openssl rand -base64 48)}\n"
     "  ENCRYPTION_KEY: ${ENCRYPTION_KEY:?required}\n",
     "gateway: ENCRYPTION_KEY given only to provider-adapter"),
    ("secrets rotated on every run", "install.sh",
     'current=$(env_value "$env_file" "$key")\n        if', 'current=""\n        if',
     "a second run keeps every secret"),
)


def self_test(root: Path) -> int:
    print("Self-test: each deliberate break of a copy must be caught.")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for what, file, old, new, expected in MUTATIONS:
            copy = Path(tmp) / "copy"
            if copy.exists():
                shutil.rmtree(copy)
            copy.mkdir()
            for f in FILES:
                src = root / f
                if src.is_dir():
                    shutil.copytree(src, copy / f, ignore=shutil.ignore_patterns("target"))
                elif src.is_file():
                    (copy / f).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, copy / f)
            path = copy / file
            text = path.read_text()
            if old not in text:
                print(f"  FAIL  {what}: the text to break was not found in {file}")
                failures += 1
                continue
            path.write_text(text.replace(old, new, 1))
            with open(os.devnull, "w") as devnull:
                saved = sys.stdout
                sys.stdout = devnull
                try:
                    report = run_checks(copy, None, quiet=True)
                finally:
                    sys.stdout = saved
            caught = [f for f in report.failures if expected in f]
            if caught:
                print(f"  ok    caught: {what} -> {caught[0]}")
            else:
                print(f"  FAIL  not caught: {what} (expected a failure with {expected!r};"
                      f" got {report.failures})")
                failures += 1
    return failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    ap.add_argument("--compose", help='Compose v2 command, e.g. "docker compose"')
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    root = args.root.resolve()
    if args.self_test:
        failures = self_test(root)
        print(f"\nself-test: {len(MUTATIONS) - failures}/{len(MUTATIONS)} breaks caught")
        return 1 if failures else 0
    compose = shlex.split(args.compose) if args.compose else None
    print(f"Checking the deployment files in {root}")
    report = run_checks(root, compose)
    print(f"\n{report.count} checks, {len(report.failures)} failed")
    for f in report.failures:
        print(f"  - {f}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
