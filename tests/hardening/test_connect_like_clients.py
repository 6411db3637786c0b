"""Connecting as Elastic's official clients do: a bearer token, a client certificate (mutual TLS),
a CA fingerprint, extra headers, from flags and from ``reconciler.yaml`` (docs/connecting.md).

Certificates are made here: a CA for the server, one for clients, and a certificate each signed by
them (with the ``cryptography`` package if installed, else ``openssl``). The sandbox serves HTTPS,
requires a client certificate its client CA signed when asked, and accepts a bearer token; its
request log shows each request's headers and authentication scheme (never the credential).
"""

from __future__ import annotations

import hashlib
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import Run, run_cli, spec_folder
from tests.hardening.corpus import AZURE, SECRET_ENV, SHIFT

TOKEN = "bearer-HARDEN-5c7e9a1b-distinctive"
PROXY_TOKEN = "proxy-HARDEN-2d4f6a8c-distinctive"


def _with_cryptography(folder: Path) -> dict[str, Path]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    files: dict[str, Path] = {}

    def make(
        name: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None, *, ca: bool
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer[0].subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
        files[name] = folder / f"{name}.pem"
        files[name].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[f"{name}-key"] = folder / f"{name}-key.pem"
        files[f"{name}-key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert, key

    server_ca = make("server-ca", None, ca=True)
    client_ca = make("client-ca", None, ca=True)
    make("server", server_ca, ca=False)
    make("client", client_ca, ca=False)
    make("stranger", None, ca=False)  # a client certificate no CA of the server signed
    return files


def _with_openssl(folder: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    def make(name: str, issuer: str | None, *, ca: bool) -> None:
        cert, key = folder / f"{name}.pem", folder / f"{name}-key.pem"
        files[name], files[f"{name}-key"] = cert, key
        extension = "basicConstraints=critical,CA:TRUE" if ca else "subjectAltName=IP:127.0.0.1"
        if issuer is None:
            run(
                *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}"),
                *("-addext", extension, "-days", "2", "-keyout", str(key), "-out", str(cert)),
            )
            return
        request = folder / f"{name}.csr"
        run(
            *("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}"),
            *("-keyout", str(key), "-out", str(request)),
        )
        extfile = folder / f"{name}.ext"
        extfile.write_text(extension + "\n", encoding="utf-8")
        run(
            *("x509", "-req", "-in", str(request), "-CA", str(files[issuer])),
            *("-CAkey", str(files[f"{issuer}-key"]), "-CAcreateserial", "-days", "2"),
            *("-extfile", str(extfile), "-out", str(cert)),
        )

    make("server-ca", None, ca=True)
    make("client-ca", None, ca=True)
    make("server", "server-ca", ca=False)
    make("client", "client-ca", ca=False)
    make("stranger", None, ca=False)
    return files


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    try:
        import cryptography  # noqa: F401
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor openssl is installed")
        files = _with_openssl(folder)
    else:
        files = _with_cryptography(folder)
    # the server sends its certificate and its CA's, as Elasticsearch's auto-configured TLS does
    files["server-chain"] = folder / "server-chain.pem"
    files["server-chain"].write_text(
        files["server"].read_text(encoding="utf-8")
        + files["server-ca"].read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    return files


def fingerprint(pem: Path, *, colons: bool = False) -> str:
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.read_text(encoding="utf-8"))).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 64, 2)).upper() if colons else digest


@pytest.fixture()
def specs(tmp_path: Path) -> Path:
    return spec_folder(tmp_path / "specs", {"azure.yaml": AZURE, "shift.yaml": SHIFT})


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    return run_cli(*args, env={**SECRET_ENV, **(env or {})}, cwd=cwd, timeout=60)


def assert_applied(result: Run, *secrets: str) -> None:
    assert result.code == 0, result.output
    for secret in secrets:
        assert secret not in result.output


@pytest.fixture()
def mtls_cluster(pki: dict[str, Path]) -> Iterator[SandboxServer]:
    with SandboxServer(
        port=0,
        certfile=str(pki["server-chain"]),
        keyfile=str(pki["server-key"]),
        client_ca=str(pki["client-ca"]),
        bearer_token=TOKEN,
    ) as server:
        yield server


def test_bearer_token_by_flag_and_by_shell(specs: Path) -> None:
    with SandboxServer(port=0, bearer_token=TOKEN) as cluster:
        refused = cli("plan", str(specs), "--url", cluster.url)
        assert refused.code == 1 and "401" in refused.stderr, refused.output
        result = cli(
            "apply", str(specs), "--url", cluster.url, "--bearer-token", TOKEN, "--auto-approve"
        )
        assert_applied(result, TOKEN)
        assert {r["auth"] for r in cluster.requests if r["status"] != 401} == {"Bearer"}
        again = cli(
            "plan",
            str(specs),
            "--detailed-exitcode",
            env={"ELASTICSEARCH_URL": cluster.url, "ELASTICSEARCH_BEARER_TOKEN": TOKEN},
        )
        assert again.code == 0 and "No changes." in again.stdout, again.output


def test_the_shells_bearer_token_goes_only_to_the_shells_cluster(specs: Path) -> None:
    with SandboxServer(port=0, bearer_token=TOKEN) as cluster:
        result = cli(
            "plan",
            str(specs),
            "--url",
            cluster.url,
            env={"ELASTICSEARCH_BEARER_TOKEN": TOKEN},
        )
        assert result.code == 1 and "ELASTICSEARCH_BEARER_TOKEN goes only" in result.stderr
        assert {r["auth"] for r in cluster.requests} == {None}


def test_mutual_tls_and_a_bearer_token_from_reconciler_yaml(
    mtls_cluster: SandboxServer, pki: dict[str, Path], specs: Path, tmp_path: Path
) -> None:
    (specs / "certs").mkdir()
    for name in ("server-ca", "client", "client-key"):
        shutil.copy(pki[name], specs / "certs" / f"{name}.pem")
    (specs / "reconciler.yaml").write_text(
        "environments:\n  prod:\n"
        f"    url: {mtls_cluster.url}\n"
        "    ca_cert: certs/server-ca.pem\n"
        "    client_cert: certs/client.pem\n"
        "    client_key: certs/client-key.pem\n"
        "    bearer_token_env: PROD_TOKEN\n",
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = cli(
        "apply",
        str(specs),
        "--env",
        "prod",
        "--auto-approve",
        env={"PROD_TOKEN": TOKEN},
        cwd=elsewhere,
    )
    assert_applied(result, TOKEN)
    assert mtls_cluster.requests and {r["auth"] for r in mtls_cluster.requests} == {"Bearer"}


def test_mutual_tls_without_or_with_a_foreign_client_certificate_is_refused(
    mtls_cluster: SandboxServer, pki: dict[str, Path], specs: Path
) -> None:
    common = ("plan", str(specs), "--url", mtls_cluster.url, "--ca-cert", str(pki["server-ca"]))
    for client in (
        (),
        ("--client-cert", str(pki["stranger"]), "--client-key", str(pki["stranger-key"])),
    ):
        result = cli(*common, "--bearer-token", TOKEN, *client)
        assert result.code == 1 and "Traceback" not in result.output, result.output
    assert mtls_cluster.requests == []  # the handshake failed: no request reached the cluster
    good = cli(
        *common,
        "--bearer-token",
        TOKEN,
        "--client-cert",
        str(pki["client"]),
        "--client-key",
        str(pki["client-key"]),
    )
    assert good.code == 0, good.output


@pytest.mark.parametrize("colons", [False, True])
def test_ca_fingerprint_of_the_server_or_its_ca_is_trusted(
    mtls_cluster: SandboxServer, pki: dict[str, Path], specs: Path, colons: bool
) -> None:
    # no --ca-cert: the fingerprint alone trusts the server (of its own certificate or its CA's)
    pinned = pki["server"] if colons else pki["server-ca"]
    result = cli(
        "plan",
        str(specs),
        "--url",
        mtls_cluster.url,
        "--ca-fingerprint",
        fingerprint(pinned, colons=colons),
        "--bearer-token",
        TOKEN,
        "--client-cert",
        str(pki["client"]),
        "--client-key",
        str(pki["client-key"]),
    )
    assert result.code == 0, result.output


def test_a_wrong_ca_fingerprint_is_refused_before_any_credential_is_sent(
    mtls_cluster: SandboxServer, pki: dict[str, Path], specs: Path
) -> None:
    wrong = fingerprint(pki["client-ca"])
    result = cli(
        "apply",
        str(specs),
        "--url",
        mtls_cluster.url,
        "--ca-fingerprint",
        wrong,
        "--bearer-token",
        TOKEN,
        "--client-cert",
        str(pki["client"]),
        "--client-key",
        str(pki["client-key"]),
        "--auto-approve",
    )
    assert result.code == 1, result.output
    assert "Traceback" not in result.output and TOKEN not in result.output
    assert "SHA-256 fingerprint" in result.stderr and "--ca-fingerprint" in result.stderr
    assert mtls_cluster.requests == []  # not one request, so not one credential, reached it


def test_a_malformed_ca_fingerprint_is_an_input_error(specs: Path) -> None:
    result = cli("plan", str(specs), "--url", "https://127.0.0.1:9", "--ca-fingerprint", "abc")
    assert result.code == 1 and "64 hex digits" in result.stderr, result.output


def test_headers_are_on_the_wire_and_never_printed(specs: Path, tmp_path: Path) -> None:
    with SandboxServer(port=0) as cluster:
        result = cli(
            "apply",
            str(specs),
            "--url",
            cluster.url,
            "--header",
            "X-Opaque-Id: nightly-7f3a",
            "--header",
            f"X-Proxy-Token:{PROXY_TOKEN}",
            "--auto-approve",
            "--verbose",
        )
        assert_applied(result, PROXY_TOKEN)
        assert cluster.requests
        for request in cluster.requests:
            assert request["headers"]["x-opaque-id"] == "nightly-7f3a"
            assert request["headers"]["x-proxy-token"] == PROXY_TOKEN
        cluster.clear_requests()
        (specs / "reconciler.yaml").write_text(
            f"environments:\n  ci:\n    url: {cluster.url}\n"
            "    header_env:\n      X-Proxy-Token: PROXY_TOKEN\n",
            encoding="utf-8",
        )
        from_yaml = cli("plan", str(specs), "--env", "ci", env={"PROXY_TOKEN": PROXY_TOKEN})
        assert from_yaml.code == 0, from_yaml.output
        assert {r["headers"].get("x-proxy-token") for r in cluster.requests} == {PROXY_TOKEN}
        unset = cli("plan", str(specs), "--env", "ci")
        assert unset.code == 1 and "reconciler.yaml:" in unset.stderr, unset.output
        assert "PROXY_TOKEN (header_env), which is not set" in unset.stderr


def test_a_header_cannot_replace_authentication(specs: Path) -> None:
    result = cli(
        "plan", str(specs), "--url", "http://127.0.0.1:9", "--header", f"Authorization: {TOKEN}"
    )
    assert result.code != 0 and TOKEN not in result.output, result.output
