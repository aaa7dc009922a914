#!/usr/bin/env python3
"""How cost grows with the data: one command per scale, timed with its peak RSS, in release builds.

    python benches/scale.py --bin target/release/omnimarket --work /tmp/scale --scales 1 10 100

For each scale, in a fresh directory under --work (reused when the data is already there):
  generate           omnimarket generate --scale N (the 14 raw files)
  import refresh     omnimarket refresh (parse every raw file, run the models, write the snapshot cache),
                     from an empty cache
  parquet refresh    omnimarket refresh --to DIR (cache warm: read the cache, write the Parquet snapshot)
  report, import     omnimarket report: the five dashboards (all their queries), tables from the warm cache
  report, parquet    omnimarket report --snapshots DIR: the same pages from the Parquet snapshot
and checks the two reports' pages are byte-identical. Prints wall time and peak RSS (getrusage of the child)
per step, and the per-dashboard milliseconds `report` prints. Not part of CI.
"""
import argparse
import pathlib
import resource
import shutil
import subprocess
import sys
import time


def measured(cmd):
    """Run `cmd` in a child of a fresh Python, so that RUSAGE_CHILDREN is that command's own peak RSS."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "el = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "sys.stdout.write(f'{p.returncode} {el} {rss}\\n' + p.stdout)\n"
        "sys.stderr.write(p.stderr)\n"
    )
    p = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True)
    head, _, out = p.stdout.partition("\n")
    code, elapsed, rss_kib = head.split()
    if code != "0":
        raise SystemExit(f"{' '.join(cmd)}: exit {code}\n{out}\n{p.stderr}")
    return float(elapsed), int(rss_kib) / 1024, out


def pages(out):
    """`report`'s table: file -> ms."""
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].endswith(".html") and parts[2].isdigit():
            rows[parts[0]] = int(parts[2])
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--scales", nargs="+", type=int, default=[1, 10, 100])
    args = ap.parse_args()
    bin_path = str(pathlib.Path(args.bin).resolve())
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    for scale in args.scales:
        root = pathlib.Path(args.work) / f"s{scale}"
        data, project, snap = root / "data", root / "project", root / "snap"
        steps = []
        if not (data / "base_ventes.sql").exists():
            steps.append(("generate", measured([bin_path, "generate", "--scale", str(scale), "--out", str(data)])))
        shutil.rmtree(project, ignore_errors=True)
        shutil.rmtree(snap, ignore_errors=True)
        project.mkdir(parents=True)
        common = ["--project", str(project), "--data", str(data)]
        steps.append(("import refresh", measured([bin_path, "refresh", *common])))
        steps.append(("parquet refresh --to", measured([bin_path, "refresh", *common, "--to", str(snap)])))
        steps.append(("report, import", measured([bin_path, "report", *common, "--out", str(root / "report-import")])))
        steps.append(("report, parquet", measured([bin_path, "report", "--project", str(project), "--snapshots", str(snap),
                                                    "--out", str(root / "report-parquet")])))
        same = all((root / "report-import" / p.name).read_bytes() == p.read_bytes() for p in (root / "report-parquet").glob("*.html"))
        snap_mb = sum(f.stat().st_size for f in snap.rglob("*") if f.is_file()) / 1e6
        raw_mb = sum(f.stat().st_size for f in data.iterdir() if f.is_file()) / 1e6
        print(f"\n## scale {scale}: raw files {raw_mb:.0f} MB, Parquet snapshot {snap_mb:.0f} MB; reports identical: {same}")
        print(f"{'step':<22} {'wall s':>8} {'peak RSS MiB':>13}")
        for name, (elapsed, rss, _) in steps:
            print(f"{name:<22} {elapsed:>8.2f} {rss:>13.0f}")
        imp, par = pages(dict(steps)["report, import"][2]), pages(dict(steps)["report, parquet"][2])
        print(f"{'dashboard':<22} {'import ms':>10} {'parquet ms':>11}")
        for page in imp:
            if page != "index.html":
                print(f"{page:<22} {imp[page]:>10} {par.get(page, -1):>11}")


if __name__ == "__main__":
    main()
