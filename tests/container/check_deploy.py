#!/usr/bin/env python3
"""Checks docker/compose.yaml and docker/kubernetes/*.yaml against the daemon.

No kubectl or compose engine is needed: the files are parsed, their parts are
checked against each other (service and volume references, ports, Secrets that
feed ${VAR}s, probe and annotation ports, grace periods, memory limits against
the body budget), and every Sluice configuration they carry is checked with
`sluice --check-config` and then served by a real daemon on a free loopback
port, where each probe path must answer 200.

Usage: check_deploy.py --sluice build/src/sluice [--repo DIR]
Exits 1 listing every problem found.
"""
import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")


KNOWN_KINDS = {
    ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("v1", "PersistentVolumeClaim"),
    ("v1", "Pod"), ("apps/v1", "Deployment"), ("policy/v1", "PodDisruptionBudget"),
}
IMAGE_USER = 65532  # docker/Dockerfile's USER
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")


def duration_seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", str(text))
    if not m:
        raise ValueError(f"not a duration: {text}")
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def memory_bytes(text):
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", str(text))
    if not m:
        raise ValueError(f"not a quantity: {text}")
    return int(m.group(1)) * {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}[m.group(2)]


def expand(text, env):
    """${VAR} / ${VAR:-default} as the daemon reads them (for the listen address)."""
    return VAR.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ":-")[2:], text)


def sluice_config(where, text, env):
    """Parses a Sluice configuration; returns (listen port, shutdown_grace s, body budget)."""
    cfg = yaml.safe_load(text)
    server = cfg.get("server", {})
    listen = expand(str(server.get("listen", "127.0.0.1:8080")), env)
    port = int(listen.rsplit(":", 1)[1])
    grace = duration_seconds(server.get("shutdown_grace", "30s"))
    budget = int(server.get("max_buffered_body_bytes", 64 << 20))
    return port, grace, budget


class Daemon:
    """The real daemon on a configuration, moved to a free loopback port."""

    def __init__(self, sluice, where, text, env):
        self.where = where
        cfg = yaml.safe_load(text)
        cfg.setdefault("server", {})["listen"] = "127.0.0.1:0"
        self.dir = tempfile.TemporaryDirectory()
        path = pathlib.Path(self.dir.name) / "sluice.yaml"
        path.write_text(yaml.safe_dump(cfg))
        self.log = open(pathlib.Path(self.dir.name) / "log", "w+")
        self.proc = subprocess.Popen([sluice, "--config", str(path)], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        self.port = None
        deadline = time.monotonic() + 10
        while self.port is None and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.05)
            self.log.seek(0)
            for line in self.log:
                if line.startswith("{") and '"event":"started"' in line:
                    self.port = json.loads(line)["port"]
        if self.port is None:
            self.log.seek(0)
            problem(where, "the daemon did not start on this configuration:\n" + self.log.read())

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=35)
        self.log.close()
        self.dir.cleanup()


def check_config(sluice, where, text, env):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(text)
        f.flush()
        r = subprocess.run([sluice, "--check-config", "--config", f.name], env=env,
                           capture_output=True, text=True)
    if r.returncode != 0:
        problem(where, "sluice --check-config refused it:\n" + r.stdout + r.stderr)
        return False
    return True


def serves_metrics(repo):
    return '"/metrics"' in (repo / "src/server/routes.cpp").read_text()


# --- Kubernetes ---------------------------------------------------------------

def port_number(container, port, where):
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    problem(where, f"port '{port}' is not a named port of container {container['name']}")
    return None


def prestop_seconds(container):
    command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    if command[:1] == ["sleep"]:
        return float(command[1])
    if container.get("lifecycle", {}).get("preStop", {}).get("sleep"):
        return float(container["lifecycle"]["preStop"]["sleep"]["seconds"])
    return 0


def check_kubernetes_file(sluice, repo, path):
    where = str(path.relative_to(repo))
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    by_kind = {}
    for d in docs:
        if (d.get("apiVersion"), d.get("kind")) not in KNOWN_KINDS:
            problem(where, f"unknown apiVersion/kind {d.get('apiVersion')}/{d.get('kind')}")
        if not d.get("metadata", {}).get("name"):
            problem(where, f"a {d.get('kind')} without metadata.name")
        by_kind.setdefault(d.get("kind"), {})[d.get("metadata", {}).get("name")] = d
    config_maps = by_kind.get("ConfigMap", {})
    secrets = {n: {**s.get("stringData", {}), **s.get("data", {})} for n, s in by_kind.get("Secret", {}).items()}

    workloads = list(by_kind.get("Deployment", {}).values()) + list(by_kind.get("Pod", {}).values())
    sluice_pods = 0
    for w in workloads:
        name = w["metadata"]["name"]
        spec = w["spec"]["template"]["spec"] if w["kind"] == "Deployment" else w["spec"]
        meta = w["spec"]["template"]["metadata"] if w["kind"] == "Deployment" else w["metadata"]
        if w["kind"] == "Deployment":
            labels = meta.get("labels", {})
            for k, v in w["spec"]["selector"]["matchLabels"].items():
                if labels.get(k) != v:
                    problem(where, f"Deployment {name}: selector {k}={v} does not match the pod labels")
        containers = spec.get("containers", []) + spec.get("initContainers", [])
        for c in spec.get("initContainers", []):
            if str(c.get("image", "")).startswith("sluice") and c.get("restartPolicy") != "Always":
                problem(where, f"{name}: init container {c['name']} is not a native sidecar (restartPolicy: Always)")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in containers:
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    problem(where, f"{name}/{c['name']}: volume {m['name']} is not declared")
            for v in volumes.values():
                claim = v.get("persistentVolumeClaim", {}).get("claimName")
                if claim and claim not in by_kind.get("PersistentVolumeClaim", {}):
                    problem(where, f"{name}: PersistentVolumeClaim {claim} is not in the file")
        for c in containers:
            if not str(c.get("image", "")).startswith("sluice"):
                continue
            sluice_pods += 1
            check_sluice_container(sluice, repo, where, f"{name}/{c['name']}", spec, meta, c, volumes,
                                   config_maps, secrets)
    if not sluice_pods:
        problem(where, "no Sluice container")

    for svc in by_kind.get("Service", {}).values():
        selected = [w for w in workloads if w["kind"] == "Deployment" and all(
            w["spec"]["template"]["metadata"].get("labels", {}).get(k) == v
            for k, v in svc["spec"]["selector"].items())]
        if not selected:
            problem(where, f"Service {svc['metadata']['name']} selects no Deployment of the file")
        for w in selected:
            c = w["spec"]["template"]["spec"]["containers"][0]
            for p in svc["spec"]["ports"]:
                port_number(c, p.get("targetPort", p["port"]), f"{where}: Service {svc['metadata']['name']}")
    for pdb in by_kind.get("PodDisruptionBudget", {}).values():
        if not any(w["kind"] == "Deployment" and all(
                w["spec"]["template"]["metadata"].get("labels", {}).get(k) == v
                for k, v in pdb["spec"]["selector"]["matchLabels"].items()) for w in workloads):
            problem(where, f"PodDisruptionBudget {pdb['metadata']['name']} selects no Deployment")


def check_sluice_container(sluice, repo, where, who, spec, meta, c, volumes, config_maps, secrets):
    at = f"{where}: {who}"
    # The configuration: --config names a key of a mounted ConfigMap.
    args = c.get("args", [])
    config_path = args[args.index("--config") + 1] if "--config" in args else "/etc/sluice/sluice.yaml"
    text = None
    for m in c.get("volumeMounts", []):
        if config_path.startswith(m["mountPath"].rstrip("/") + "/"):
            cm_name = volumes.get(m["name"], {}).get("configMap", {}).get("name")
            key = config_path[len(m["mountPath"].rstrip("/")) + 1:]
            if cm_name not in config_maps:
                problem(at, f"ConfigMap {cm_name} is not in the file")
            elif key not in config_maps[cm_name].get("data", {}):
                problem(at, f"ConfigMap {cm_name} has no key {key}")
            else:
                text = config_maps[cm_name]["data"][key]
    if text is None:
        problem(at, f"--config {config_path} is not a mounted ConfigMap key")
        return

    # Every ${VAR} without a default comes from a Secret key through env or envFrom.
    provided = {}
    for e in c.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            if ref["key"] not in secrets.get(ref["name"], {}):
                problem(at, f"env {e['name']}: Secret {ref['name']} has no key {ref['key']}")
            provided[e["name"]] = "placeholder-secret-value-for-the-check"
        elif "value" in e:
            provided[e["name"]] = str(e["value"])
    for ef in c.get("envFrom", []):
        ref = ef.get("secretRef")
        if ref:
            if ref["name"] not in secrets:
                problem(at, f"envFrom: Secret {ref['name']} is not in the file")
            for k in secrets.get(ref["name"], {}):
                provided[k] = "placeholder-secret-value-for-the-check"
    for m in VAR.finditer(text):
        if not m.group(2) and m.group(1) not in provided:
            problem(at, f"the configuration reads ${{{m.group(1)}}}, which no env or Secret provides")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **provided}

    if not check_config(sluice, at + " (its ConfigMap)", text, env):
        return
    listen_port, grace, budget = sluice_config(at, text, env)

    # Probes: startup, liveness on /healthz, readiness on /readyz, on the listener.
    probes = {k: c.get(k) for k in ("startupProbe", "livenessProbe", "readinessProbe")}
    expected = {"startupProbe": None, "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    paths = set()
    for kind, probe in probes.items():
        if not probe or "httpGet" not in probe:
            problem(at, f"no {kind} with httpGet")
            continue
        path = probe["httpGet"]["path"]
        if expected[kind] and path != expected[kind]:
            problem(at, f"{kind} is on {path}, not {expected[kind]}")
        if port_number(c, probe["httpGet"]["port"], at) != listen_port:
            problem(at, f"{kind}'s port is not the configuration's listen port {listen_port}")
        paths.add(path)
    live = probes.get("livenessProbe") or {}
    if live.get("periodSeconds", 10) * live.get("failureThreshold", 3) <= grace:
        problem(at, "liveness periodSeconds x failureThreshold must exceed shutdown_grace, "
                    "or a failing liveness probe cuts the drain short")

    # Grace: every preStop sleep of the pod, then shutdown_grace, fit in the termination period.
    tgps = spec.get("terminationGracePeriodSeconds", 30)
    pre = sum(prestop_seconds(x) for x in spec.get("containers", []) + spec.get("initContainers", []))
    if tgps < pre + grace + 1:
        problem(at, f"terminationGracePeriodSeconds {tgps} < preStop {pre:g} s + shutdown_grace {grace:g} s + 1 s")

    # Resources: requests above the measured idle RSS (~9 MiB), limit above the body budget's worst case.
    res = c.get("resources", {})
    request = memory_bytes(res.get("requests", {}).get("memory", 0))
    limit = memory_bytes(res.get("limits", {}).get("memory", 0))
    if request < 16 << 20:
        problem(at, "memory request below 16Mi: the daemon's idle RSS is ~9 MiB, ~12 MiB after load")
    if limit < 2 * budget + (16 << 20):
        problem(at, f"memory limit {limit >> 20} MiB < 2 x max_buffered_body_bytes ({budget >> 20} MiB) + 16 MiB")
    if not res.get("requests", {}).get("cpu"):
        problem(at, "no cpu request")

    sc = c.get("securityContext", {})
    if sc.get("runAsUser") != IMAGE_USER or not spec.get("securityContext", {}).get("runAsNonRoot"):
        problem(at, f"not runAsNonRoot with runAsUser {IMAGE_USER} (the image's user)")

    # Prometheus annotations on the pod, pointing at the listener.
    ann = meta.get("annotations", {})
    if ann.get("prometheus.io/scrape") != "true" or str(ann.get("prometheus.io/port")) != str(listen_port):
        problem(at, f"Prometheus annotations missing or not on port {listen_port}")
    metrics_path = ann.get("prometheus.io/path", "/metrics")

    # The real daemon on this configuration answers the probe paths (and /metrics once served).
    daemon = Daemon(sluice, at, text, env)
    try:
        if daemon.port:
            for p in sorted(paths):
                if (s := daemon.get(p)) != 200:
                    problem(at, f"GET {p} answered {s}, not 200")
            s = daemon.get(metrics_path)
            if s != 200 and (serves_metrics(repo) or s != 404):
                problem(at, f"GET {metrics_path} (the scrape annotation) answered {s}")
    finally:
        daemon.close()


# --- Compose -----------------------------------------------------------------

def check_compose(sluice, repo):
    path = repo / "docker/compose.yaml"
    where = str(path.relative_to(repo))
    compose = yaml.safe_load(path.read_text())
    services = compose.get("services", {})
    named_volumes = set((compose.get("volumes") or {}).keys())
    for want in ("sluice", "redis", "prometheus", "grafana"):
        if want not in services:
            problem(where, f"no service {want}")
    host_ports = set()
    grafana_dir = repo / "docker/grafana"
    for name, svc in services.items():
        at = f"{where}: {name}"
        if "build" not in svc and "image" not in svc:
            problem(at, "neither build nor image")
        if "build" in svc:
            ctx = (path.parent / svc["build"]["context"]).resolve()
            if not (ctx / svc["build"]["dockerfile"]).is_file():
                problem(at, f"no Dockerfile at {svc['build']['dockerfile']} in the build context")
        deps = svc.get("depends_on", [])
        for d in (deps if isinstance(deps, list) else deps.keys()):
            if d not in services:
                problem(at, f"depends on unknown service {d}")
        for p in svc.get("ports", []):
            parts = str(p).split(":")
            if len(parts) != 3 or parts[0] != "127.0.0.1":
                problem(at, f"port {p} is not published on the host's loopback only (127.0.0.1:HOST:CONTAINER)")
                continue
            if parts[1] in host_ports:
                problem(at, f"host port {parts[1]} published twice")
            host_ports.add(parts[1])
        for v in svc.get("volumes", []):
            source = str(v).split(":")[0]
            if source.startswith(".") or source.startswith("/"):
                src = (path.parent / source).resolve()
                if src.exists():
                    continue
                # The dashboard's files arrive with the metrics work; until docker/grafana/
                # exists on the branch, only its own mounts may be missing.
                if not grafana_dir.exists() and src.is_relative_to(grafana_dir):
                    print(f"note: {where}: {name} mounts {source}, not on this branch yet")
                    continue
                problem(at, f"mounts {source}, which does not exist")
            elif source not in named_volumes:
                problem(at, f"named volume {source} is not declared under volumes:")

    # Sluice: the mounted configuration loads and listens on the published container port.
    svc = services.get("sluice", {})
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in svc.get("volumes", [])}
    config_src = mounts.get("/etc/sluice/sluice.yaml")
    if not config_src:
        problem(where, "sluice: no configuration mounted at /etc/sluice/sluice.yaml")
        return
    text = (path.parent / config_src).read_text()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SLUICE_LISTEN": "0.0.0.0:8080",
           **{k: str(v) for k, v in svc.get("environment", {}).items()}}
    if check_config(sluice, f"{where}: sluice ({config_src})", text, env):
        port, grace, _ = sluice_config(where, text, env)
        if not any(str(p).endswith(f":{port}") for p in svc.get("ports", [])):
            problem(where, f"sluice: listen port {port} is not published")
        if duration_seconds(svc.get("stop_grace_period", "10s")) <= grace:
            problem(where, f"sluice: stop_grace_period must exceed shutdown_grace ({grace:g} s)")
        if "redis" not in str(yaml.safe_load(text).get("redis", {}).get("url", "")) and \
                "redis" not in env.get("REDIS_URL", ""):
            problem(where, "sluice: its Redis is not the compose service redis")

    # Prometheus scrapes the sluice service's listener; Grafana reads that Prometheus.
    prom = grafana_dir / "prometheus.yml"
    if prom.exists():
        targets = [t for job in yaml.safe_load(prom.read_text()).get("scrape_configs", [])
                   for sc in job.get("static_configs", []) for t in sc.get("targets", [])]
        if f"sluice:{port}" not in targets:
            problem(str(prom.relative_to(repo)), f"does not scrape sluice:{port}")
    ds = grafana_dir / "provisioning/datasources"
    for f in sorted(ds.glob("*.yaml")) if ds.exists() else []:
        for d in yaml.safe_load(f.read_text()).get("datasources", []):
            if d.get("type") == "prometheus" and not str(d.get("url", "")).startswith("http://prometheus:9090"):
                problem(str(f.relative_to(repo)), "the Prometheus data source is not the compose service")
    dash = grafana_dir / "provisioning/dashboards"
    for f in sorted(dash.glob("*.yaml")) if dash.exists() else []:
        mounted = [m.split(":")[1] for m in map(str, services.get("grafana", {}).get("volumes", []))
                   if m.endswith(".json") or m.endswith(".json:ro")]
        for p in yaml.safe_load(f.read_text()).get("providers", []):
            root = p.get("options", {}).get("path", "")
            if not any(m.startswith(root.rstrip("/") + "/") for m in mounted):
                problem(str(f.relative_to(repo)), f"provider path {root} holds no dashboard mounted by compose")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--repo", default=str(pathlib.Path(__file__).resolve().parents[2]))
    a = ap.parse_args()
    repo = pathlib.Path(a.repo)
    manifests = sorted((repo / "docker/kubernetes").glob("*.yaml"))
    if not manifests:
        problem("docker/kubernetes", "no manifests")
    for m in manifests:
        check_kubernetes_file(a.sluice, repo, m)
    check_compose(a.sluice, repo)
    if problems:
        print("\n".join(problems))
        print(f"{len(problems)} problem(s)")
        return 1
    print(f"ok: {len(manifests)} Kubernetes file(s) and docker/compose.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
