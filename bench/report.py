"""Turn bench/results/latest.json into docs/benchmarks.md and docs/benchmarks.png."""

from pathlib import Path

TARGETS = {  # ratio: (target, higher is better, what it means)
    "hello_metrics_vs_bare": (0.90, True, "metrics cost at most 10% on hello-world"),
    "hello_exemplars_on_vs_off": (0.98, True, "exemplars (on by default) cost at most 2% on hello-world, metrics only"),
    "hello_full_vs_bare": (0.90, True, "full instrumentation costs at most 10% on hello-world"),
    "items_full_vs_bare": (0.97, True, "full instrumentation costs at most 3% on the realistic endpoint"),
    "hello_full_no_access_log_vs_bare": (None, True, "full, without Gunicorn's access line, hello-world"),
    "items_full_no_access_log_vs_bare": (None, True, "full, without Gunicorn's access line, realistic"),
    "hello_ours_full_vs_exporter_documented": (
        1.0, True, "ours (metrics + logs) beats the exporter's documented set-up"),
    "hello_ours_metrics_vs_exporter_documented": (1.0, True, "ours, metrics only (like it), against the exporter"),
    "hello_ours_full_vs_otel": (1.0, True, "ours (metrics + logs) beats OpenTelemetry's Flask instrumentation"),
    "exporter_documented_vs_bare": (None, True, "the exporter's documented setup against the bare app"),
    "otel_vs_bare": (None, True, "OpenTelemetry's instrumentation against the bare app"),
    "h1c_vs_python_parser": (None, True, "Gunicorn's C parser (gunicorn_h1c, not in the image) against its Python one"),
    "uwsgi_vs_gunicorn_bare": (None, True, "uWSGI against Gunicorn, bare app (the seeds' alternative)"),
    "uwsgi_full_vs_bare": (0.90, True, "APP_SERVER=uwsgi, full instrumentation keeps 90% of bare, hello-world"),
    "items_uwsgi_full_vs_bare": (None, True, "full instrumentation under APP_SERVER=uwsgi, realistic endpoint"),
    "uwsgi_full_vs_gunicorn_full": (None, True, "APP_SERVER=uwsgi against Gunicorn, both full, hello-world"),
    "through_nginx_vs_direct": (0.80, True, "through Nginx keeps at least 80% of direct throughput (hello-world)"),
    "items_through_nginx_vs_direct": (0.80, True, "through Nginx keeps at least 80% of direct throughput (realistic)"),
    "uwsgi_vs_default_through_nginx": (
        1.5, True, "the fastest set-up (uWSGI, uwsgi_pass) at least 1.5x the default (Gunicorn sync), both full, "
        "through Nginx on the app's socket, hello-world"),
    "gthread_vs_sync": (None, True, "gthread (3 x 4 threads) against sync (3 workers)"),
    "waiting_gevent_vs_sync": (None, True, "gevent against sync, endpoint waiting 50 ms (section below)"),
    "waiting_gevent_vs_gthread": (None, True, "gevent against gthread 3 x 4, endpoint waiting 50 ms"),
}


def _chart(results: dict, path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = results["throughput"]
    names = list(rows)
    medians = [rows[n]["median"] for n in names]
    errors = [[m - rows[n]["min"] for n, m in zip(names, medians, strict=True)],
              [rows[n]["max"] - m for n, m in zip(names, medians, strict=True)]]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(names) + 1.2))
    ax.barh(names, medians, xerr=errors, color="#2563eb", ecolor="#1d2330", capsize=3)
    ax.invert_yaxis()
    ax.set_xlabel("requests/s (median; bars: min to max of the repetitions)")
    machine = results["machine"]
    ax.set_title(f"flaskobs on {machine['cores']} cores, {machine['date']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def breakdown_lines(split: dict | None, hello: dict | None) -> list[str]:
    """Where a hello-world request's CPU goes, direct and through Nginx: Nginx's workers, Gunicorn's
    own work (its worker's CPU per request less the in-worker call), the app, our hooks."""
    if not split or not hello:
        return []
    d, n = split["direct"], split["through_nginx"]
    app, hooks = hello["bare"], hello["full"] - hello["bare"]
    rows = [("Nginx's workers", 0.0, n["nginx_workers"]),
            ("Gunicorn: parsing, sockets, its loop", d["gunicorn_workers"] - hello["full"],
             n["gunicorn_workers"] - hello["full"]),
            ("the app (Flask, the view)", app, app),
            ("our hooks (metrics, logs, access line)", hooks, hooks)]
    lines = ["", "## Where a request's CPU goes", "",
             "Microseconds per hello-world request (full instrumentation, gthread 3 x 4): the workers' CPU per",
             "request above, less the in-worker call measured alone (the table above); so Gunicorn's row is",
             "what its worker spends around the app, and the app's own extra work behind Nginx (more headers,",
             "ProxyFix, the forwarded id) counts in it too.", "",
             "| part | direct | through Nginx |", "|---|---|---|"]
    lines += [f"| {name} | {a:.0f} | {b:.0f} |" for name, a, b in rows]
    lines.append(f"| total | {sum(r[1] for r in rows):.0f} | {sum(r[2] for r in rows):.0f} |")
    return lines


def instruction_lines(measured: dict | None) -> list[str]:
    """The steady figures: instructions per request in the worker (bench/instructions.py)."""
    if not measured:
        return []
    counts, layout = measured["counts"], measured.get("layout_full", {})
    lines = ["", "## Instructions per request (steady figures)", "",
             "The same in-worker call as above, counted by valgrind's callgrind (`bench/instructions.py`): a",
             "count does not move with the machine's load, so it judges a change of a few percent where",
             "throughput rounds cannot. Each counted twice; \"repeat\" is the larger difference between the",
             "two counts of one cell. \"kept\" is bare / this, the share of bare's throughput the in-worker",
             "cost allows (Gunicorn's own parsing and loop come on top).", "",
             "| endpoint | bare | + metrics, no exemplars | + metrics | + metrics + logs | kept, + metrics "
             "| kept, + metrics + logs | repeat |", "|---|---|---|---|---|---|---|---|"]
    for endpoint, c in counts.items():
        m = {mode: min(runs) for mode, runs in c.items()}
        repeat = max((max(runs) - min(runs)) / min(runs) for runs in c.values())
        lines.append(f"| {endpoint} | {m['bare']:,} | {m['no-exemplars']:,} | {m['metrics']:,} | {m['full']:,} | "
                     f"{m['bare'] / m['metrics']:.3f} | {m['bare'] / m['full']:.3f} | {100 * repeat:.2f}% |")
    moved = {e: (max(c) - min(c)) / min(c) for e, c in layout.items() if c}
    if moved:
        lines += ["", "The memory layout moves a count too (dictionaries keyed by object address probe differently):",
                  "padding the environment by 64 to 320 bytes moved the full variant by "
                  + ", ".join(f"{100 * v:.2f}% ({e})" for e, v in moved.items())
                  + ". A difference between two columns smaller than that is not resolved."]
    return lines


def write_report(results: dict, docs: Path) -> None:
    docs.mkdir(exist_ok=True)
    charted = _chart(results, docs / "benchmarks.png")
    m, s = results["machine"], results["settings"]
    lines = [
        "# Benchmarks",
        "",
        "What the bundle's instrumentation costs, measured by `make bench` on the machine below. Every",
        "throughput figure is the median of interleaved repetitions (each round loads every variant in",
        "turn); the figures that count are the ratios, each the median of the per-round ratios, so a slow",
        "phase of the machine hits both sides of a pair. Raw numbers: `bench/results/latest.json`.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}, Python {m['python']}, "
        f"{m['date']}. Load: `{s['wrk']} -d{s['seconds']}s`, {s['reps']} repetitions, Gunicorn with {s['workers']} "
        "sync workers unless said otherwise, all on loopback.",
        "",
        "## Ratios",
        "",
        "| ratio | measured | rounds, lowest..highest | target | met |",
        "|---|---|---|---|---|",
    ]
    spreads = results.get("ratio_spreads", {})
    for key, value in results["ratios"].items():
        target, _, meaning = TARGETS[key]
        if value is None:
            lines.append(f"| {meaning} | not measured | - | {target or '-'} | - |")
            continue
        met = "-" if target is None else ("yes" if value >= target else "**no**")
        low_high = f"{spreads[key][0]:.3f}..{spreads[key][1]:.3f}" if key in spreads else "-"
        lines.append(f"| {meaning} | {value:.3f} | {low_high} | {'-' if target is None else f'>= {target:.2f}'} "
                     f"| {met} |")
    lines += ["", "## Throughput", "", "| variant | median req/s | min | max |", "|---|---|---|---|"]
    for name, row in results["throughput"].items():
        lines.append(f"| {name} | {row['median']:.0f} | {row['min']:.0f} | {row['max']:.0f} |")
    if charted:
        lines += ["", "![throughput](benchmarks.png)"]
    split = results.get("nginx_cpu_us_per_request")
    if split:
        d, n = split["direct"], split["through_nginx"]
        lines += ["", "CPU per hello-world request (microseconds, medians), direct and through Nginx: Gunicorn's "
                  f"workers {d['gunicorn_workers']:.0f} and {n['gunicorn_workers']:.0f}, Nginx's workers "
                  f"{n['nginx_workers']:.0f}."]
    wait = results.get("waiting")
    if wait:
        lines += ["", "## Worker classes on an endpoint that waits", "",
                  "The tiny test app's `/wait?seconds=0.05` (it sleeps 50 ms, as a call to another service waits;",
                  "gevent's patching makes the sleep yield), fully instrumented, shipping its two log lines a",
                  "request to a local json_lines sink; 3 workers each, `wrk -t2 -c64`. Ceilings: sync 3 / 0.05 s",
                  "= 60 req/s, gthread 3 x 4 / 0.05 s = 240 req/s; gevent's is the CPU.", "",
                  "| worker class | median req/s | min | max |", "|---|---|---|---|"]
        for name, row in wait.items():
            lines.append(f"| {name} | {row['median']:.0f} | {row['min']:.0f} | {row['max']:.0f} |")
    cost = results.get("app_cost_us")
    if cost:
        lines += ["", "## Cost inside the worker", "",
                  "Microseconds of CPU per request in one worker, without server or network (`bench/app_cost.py`:",
                  "the WSGI call, plus Gunicorn's access line in the full variant; the fastest of 7 rounds of 1000",
                  "calls, so the machine's noise drops out).", "",
                  "| endpoint | bare | + metrics, no exemplars | + metrics | + metrics + logs "
                  "| added by exemplars | added by metrics + logs |",
                  "|---|---|---|---|---|---|---|"]
        for endpoint, c in cost.items():
            lines.append(f"| {endpoint} | {c['bare']:.1f} | {c['no-exemplars']:.1f} | {c['metrics']:.1f} | "
                         f"{c['full']:.1f} | {c['metrics'] - c['no-exemplars']:.1f} | {c['full'] - c['bare']:.1f} |")
        lines += ["", "An exemplar is written at most once per 0.1 s per latency bucket and per counter series in",
                  "each worker (`flaskobs/exemplars.py`, MIN_INTERVAL); a request whose bucket was written more",
                  "recently costs one dictionary lookup. Prometheus reads the latest one each scrape."]
        if split and "hello" in cost:
            added = cost["hello"]["metrics"] - cost["hello"]["no-exemplars"]
            worker = split["direct"]["gunicorn_workers"]
            lines += ["", f"Exemplars add {added:.1f} us to a hello-world request here: {100 * added / worker:.1f}% of "
                      f"the {worker:.0f} us of CPU Gunicorn's worker spends on it (CPU per request, direct, above);",
                      "a steadier figure than the throughput ratio, whose rounds move by more than the 2% bound."]
        lines += ["", "Gunicorn itself (HTTP parsing, sockets, its worker loop) adds a few hundred microseconds",
                  "a request on top of these: see the CPU per request of Gunicorn's workers above."]
        lines += breakdown_lines(split, cost.get("hello"))
    lines += instruction_lines(results.get("instructions"))
    sc = results["scrape"]
    lines += [
        "", "## Metrics scrapes", "",
        f"- {sc['ours_workers']} workers, after mixed traffic: **{sc['ours_ms']:.1f} ms** per scrape (target < 50 ms).",
        f"- 3 workers, {sc['restarts']} worker restarts (`max_requests=1`): ours {sc['ours_before_churn_ms']:.1f} ms "
        f"before, **{sc['ours_after_churn_ms']:.1f} ms after**, {sc['ours_files_after_churn']} files; the exporter's "
        f"documented setup {sc['reference_before_churn_ms']:.1f} ms before, **{sc['reference_after_churn_ms']:.1f} ms "
        f"after**, {sc['reference_files_after_churn']} files.",
    ]
    sh, lc = results["shipping"], results["log_call"]
    lines += [
        "", "## Logs", "",
        f"- One log call on the request path (JSON to stdout and into the shipping queue): p50 "
        f"{lc['p50_us']:.1f} us, **p99 {lc['p99_us']:.1f} us** (target < 30 us). Flask's default logging (one "
        f"text line to stdout, nothing shipped), interleaved with it: p50 {lc['flask_default']['p50_us']:.1f} us, "
        f"p99 {lc['flask_default']['p99_us']:.1f} us. Both write to a pipe drained by another process, "
        "unbuffered as in the image.",
        f"- A request that logs one line, with that line written to the queue file before the response "
        f"(so a worker killed after answering loses nothing): p50 {lc['request_on_disk']['p50_us']:.1f} us, "
        f"p99 {lc['request_on_disk']['p99_us']:.1f} us, against the p50 above for the hand-off to the sender "
        "thread; requests that log nothing pay nothing for it.",
        f"- Sustained shipping with persistence on, to a local json_lines sink: ours "
        f"**{sh['ours']['events_per_s']:.0f} events/s**, python-logstash-async's defaults "
        f"**{sh['library']['events_per_s']:.0f} events/s** ({sh['ours']['events']} events each; delivered "
        f"{sh['ours']['delivered']} and {sh['library']['delivered']}).",
        f"- Memory: {results['memory']['mib_per_worker']:.0f} MiB resident per worker.",
    ]
    start = results.get("stack_start")
    if start:
        lines.append(f"- `metrics` profile from `up` to healthy (images built): {start['seconds']:.0f} s"
                     f"{'' if start['grafana'] else ' (without Grafana: no image here)'}.")
    lines += [
        "", "## How to read this", "",
        "- The bare app is this bundle's app with metrics and the access log off. The two reference",
        "  setups are applied to that same app (bench/reference_*.py), so only the instrumentation differs;",
        "  neither reference writes an access log or ships logs, which ours does in the metrics + logs rows.",
        "- Nginx runs our configuration (TLS off) in the bundle's image on the host network. wrk, Nginx's",
        "  workers and Gunicorn's share the same cores: every cycle Nginx spends is taken from Gunicorn, so",
        "  the through-Nginx ratio is lowest where the app does least (hello-world) and is a floor for",
        "  hosts with more cores. The Nginx rows use gthread workers, which keep Nginx's upstream",
        "  connections alive (sync workers close each one).",
        "- Gunicorn's JSON access line (one per request, on stdout) is the largest single cost on",
        "  hello-world: compare the rows with and without it. Behind Nginx, Nginx's access log already",
        "  records every request; `GUNICORN_ACCESS_LOG=false` drops the app's line.",
        "- One log call's tail is mostly the write to stdout: compare Flask's default logging, which does",
        "  only that write.",
        "", "## Reproduce", "",
        "`make bench` (about 27 minutes; `make bench BENCH_ARGS=--quick` for a shorter pass). It needs wrk",
        "(`apt-get install wrk`); the Nginx rows and the stack start-up need Docker and the bundle's images.",
        "",
        "",
    ]
    (docs / "benchmarks.md").write_text("\n".join(lines))
