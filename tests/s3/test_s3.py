"""Object storage end to end, against moto's S3 server on 127.0.0.1 (started and stopped by PID here).

The 14 raw files go to s3://omni/raw/ under an IAM user of the server (authentication is on, so wrong
credentials are refused as AWS would); then:
  1. `refresh --data s3://omni/raw --to s3://omni/snap --verify` builds the models from the bucket and writes a
     Parquet snapshot back to it;
  2. the five dashboards rendered (`report`) from the local files, from the bucket's raw files, and from the
     bucket's snapshot are byte-identical, page by page, and exact totals agree;
  3. a missing object, wrong credentials and a location without a snapshot are errors that name the object.

Usage: test_s3.py --bin PATH/TO/omnimarket
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

BUCKET = "omni"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """moto_server on a free loopback port; authentication is switched on after the first three requests,
    which create the IAM user whose keys the product then uses."""

    def __init__(self, work):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")
        self.log = open(work / "moto.log", "wb")
        self.proc = subprocess.Popen(
            [str(Path(sys.prefix) / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise SystemExit(f"moto_server did not start (see {work / 'moto.log'})")
                time.sleep(0.1)
        anon = dict(endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam = boto3.client("iam", **anon)
        iam.create_user(UserName="omnimarket-ci")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="omnimarket-ci", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="omnimarket-ci")["AccessKey"]
        self.key_id, self.secret = key["AccessKeyId"], key["SecretAccessKey"]
        self.s3 = boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                               aws_access_key_id=self.key_id, aws_secret_access_key=self.secret)

    def env(self, secret=None):
        """The environment the product reads its S3 settings from (nothing inherited from the caller's AWS_*)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=self.key_id, AWS_SECRET_ACCESS_KEY=secret or self.secret, AWS_REGION="us-east-1",
                   AWS_ENDPOINT=self.url, AWS_ALLOW_HTTP="true")
        return env

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def run(bin_path, args, env, expect=0):
    started = time.time()
    p = subprocess.run([bin_path, *args], env=env, capture_output=True, text=True)
    took = time.time() - started
    if expect is not None and p.returncode != expect:
        raise AssertionError(f"omnimarket {' '.join(args)}: exit {p.returncode}, expected {expect}\n{p.stdout}\n{p.stderr}")
    print(f"  {took:6.2f} s  omnimarket {' '.join(args)}")
    return p


def pages(out):
    return {p.name: p.read_bytes() for p in sorted(Path(out).glob("*.html"))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    bin_path = os.path.abspath(ap.parse_args().bin)
    work = Path(tempfile.mkdtemp(prefix="omnimarket-s3-"))
    moto = None
    try:
        data = work / "data"
        run(bin_path, ["generate", "--out", str(data)], os.environ)
        moto = Moto(work)
        moto.s3.create_bucket(Bucket=BUCKET)
        files = sorted(p for p in data.iterdir() if p.is_file())
        for p in files:
            moto.s3.upload_file(str(p), BUCKET, f"raw/{p.name}")
        print(f"moto on {moto.url}: {len(files)} raw files in s3://{BUCKET}/raw/")
        env = moto.env()
        # Separate project directories keep each run's snapshot cache apart (the bundled model in each).
        proj = {name: work / f"project-{name}" for name in ("local", "s3", "snap", "errors")}
        for p in proj.values():
            p.mkdir()

        out = run(bin_path, ["refresh", "--project", str(proj["s3"]), "--data", f"s3://{BUCKET}/raw",
                             "--to", f"s3://{BUCKET}/snap", "--verify"], env).stdout
        assert "wrote a Parquet snapshot of 14 models" in out and "verified" in out, out
        keys = [o["Key"] for o in moto.s3.list_objects_v2(Bucket=BUCKET, Prefix="snap/")["Contents"]]
        assert "snap/_omnimarket_snapshots.json" in keys, keys
        assert any(k.startswith("snap/stg_ventes/year=") for k in keys), keys

        reports = {}
        for name, args in {
            "local": ["--project", str(proj["local"]), "--data", str(data)],
            "s3": ["--project", str(proj["errors"]), "--data", f"s3://{BUCKET}/raw", "--no-cache"],
            "snap": ["--project", str(proj["snap"]), "--snapshots", f"s3://{BUCKET}/snap"],
        }.items():
            run(bin_path, ["report", *args, "--out", str(work / f"report-{name}")], env)
            reports[name] = pages(work / f"report-{name}")
        assert len(reports["local"]) == 6, list(reports["local"])
        for name in ("s3", "snap"):
            for page, html in reports["local"].items():
                assert reports[name].get(page) == html, f"{page} differs between the local files and {name}"
        print(f"the {len(reports['local'])} report pages are identical from local files, S3 raw files and the S3 snapshot")

        # Exact totals: the measures (DECIMAL sums) and a DECIMAL sum of the staging column (a DOUBLE sum would
        # depend on the order rows arrive in, which differs between in-memory partitions and Parquet files).
        for totals in (
            "SELECT Annee, Nom_Canal, MEASURE(CA_Total), MEASURE(Marge_Totale), MEASURE(Nb_Transactions), MEASURE(Nb_Retours) "
            "FROM omnimarket GROUP BY Annee, Nom_Canal ORDER BY Annee, Nom_Canal",
            "SELECT COUNT(*), SUM(CAST(\"Montant_TTC\" AS DECIMAL(18, 2))), MIN(\"Date_Vente\"), MAX(\"Date_Vente\") FROM staging.stg_ventes",
        ):
            want = run(bin_path, ["query", "--format", "csv", "--project", str(proj["local"]), "--data", str(data), totals], env).stdout
            got = run(bin_path, ["query", "--format", "csv", "--project", str(proj["snap"]), "--snapshots", f"s3://{BUCKET}/snap", totals], env).stdout
            assert got == want and len(want.splitlines()) > 1, f"totals differ:\n{got}\n{want}"

        # Errors name the object and say what is wrong.
        moto.s3.delete_object(Bucket=BUCKET, Key="raw/Dim_Canal.json")
        err = run(bin_path, ["query", "--project", str(proj["errors"]), "--data", f"s3://{BUCKET}/raw", "--no-cache",
                             "SELECT COUNT(*) FROM raw.\"Dim_Canal\""], env, expect=1).stderr
        assert f"s3://{BUCKET}/raw/Dim_Canal.json: " in err and "no such file" in err, err
        print("    ->", err.strip().splitlines()[-1][:240])
        err = run(bin_path, ["query", "--project", str(proj["errors"]), "--data", f"s3://{BUCKET}/raw", "--no-cache",
                             "SELECT COUNT(*) FROM raw.\"Dim_Motif_Retour\""], moto.env(secret="wrong-secret"), expect=1).stderr
        assert f"s3://{BUCKET}/raw/Dim_Motif_Retour.xml: " in err and "access denied (SignatureDoesNotMatch" in err, err
        print("    ->", err.strip().splitlines()[-1][:240])
        err = run(bin_path, ["query", "--project", str(proj["snap"]), "--snapshots", f"s3://{BUCKET}/nothing",
                             "SELECT COUNT(*) FROM staging.stg_clients"], env, expect=1).stderr
        assert f"s3://{BUCKET}/nothing/_omnimarket_snapshots.json: no such file: not a snapshot" in err, err
        print("    ->", err.strip().splitlines()[-1][:240])
        err = run(bin_path, ["query", "--project", str(proj["errors"]), "--data", "s3://no-such-bucket/raw", "--no-cache",
                             "SELECT COUNT(*) FROM raw.\"Dim_Canal\""], env, expect=1).stderr
        assert "s3://no-such-bucket/raw/Dim_Canal.json" in err, err
        print("    ->", err.strip().splitlines()[-1][:240])
        print("missing object, wrong credentials, no snapshot and no bucket: clear errors")
        print("S3 tests passed")
    finally:
        if moto:
            moto.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
