"""Callbacks cannot be aimed at our own network (SSRF): refused at submission, checked again before
every delivery attempt, and the POST goes to the very address that was checked (DNS rebinding)."""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.callback_target import (
    MAX_URL_LENGTH,
    CallbackRefused,
    callback_url_problem,
    is_public,
    pin_target,
    pinned_client,
)
from tests.test_api_support import CALM_DIARY, CallbackReceiver, RunningApi, api_env, running_api

PUBLIC_IP = "93.184.215.14"  # literal, so no DNS is needed to accept it


class ScriptedResolver:
    """Answers lookups from a script, one answer per call (the last one repeats); counts calls."""

    def __init__(self, *answers: list[str] | OSError) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        answer = self.answers[min(len(self.calls), len(self.answers) - 1)]
        self.calls.append((host, port))
        if isinstance(answer, OSError):
            raise answer
        return answer


@pytest.fixture
def parked_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningApi]:
    """The app in development (the default environment) with private callbacks NOT allowed."""
    api_env(monkeypatch, DREAMREEL_CALLBACK_ALLOW_PRIVATE="false", DREAMREEL_CALLBACK_ATTEMPTS="3")
    with running_api(render=False) as running:
        yield running


def post_diary(client: httpx.Client, callback_url: str) -> httpx.Response:
    return client.post("/v1/diaries", json={"text": CALM_DIARY, "user": "u1", "callback_url": callback_url})


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "0.0.0.0", "100.64.0.1",
                                     "224.0.0.1", "::1", "::ffff:127.0.0.1", "fe80::1", "fc00::1", "ff02::1",
                                     "2002:7f00:1::1", "64:ff9b::a9fe:a9fe"])
def test_non_public_addresses_are_not_public(address: str) -> None:
    assert not is_public(address)


def test_public_addresses_are_public() -> None:
    assert is_public(PUBLIC_IP) and is_public("2606:2800:21f:cb07:6820:80da:af6b:8b2c")


def test_private_callback_urls_are_refused_at_submission_even_in_development(parked_api: RunningApi) -> None:
    assert parked_api.settings.environment == "development"
    refused = {
        "http://127.0.0.1:8080/hook": "127.0.0.1, which is not a public address",
        "http://169.254.169.254/latest/meta-data/": "169.254.169.254, which is not a public address",
        "http://[::1]/hook": "::1, which is not a public address",
        "http://[::ffff:127.0.0.1]/hook": "which is not a public address",
        "http://10.20.30.40/hook": "10.20.30.40, which is not a public address",
        "http://2130706433/hook": "127.0.0.1, which is not a public address",  # 127.0.0.1 as one number
        "http://localhost:9/hook": "localhost resolves only to non-public addresses",
        f"http://user:secret@{PUBLIC_IP}/hook": "must not contain a user name or password",
        f"http://{PUBLIC_IP}/" + "a" * MAX_URL_LENGTH: f"longer than {MAX_URL_LENGTH} characters",
    }
    with parked_api.client() as client:
        for url, message in refused.items():
            response = post_diary(client, url)
            assert response.status_code == 422, (url, response.text)
            assert response.json()["error"]["code"] == "invalid_input", url
            assert message in response.json()["error"]["message"], (url, response.text)
        for url in ("ftp://example.com/hook", "file:///etc/passwd", "http://"):
            assert post_diary(client, url).status_code == 422, url
        assert parked_api.service.runner.submitted == []

        # a public address is accepted; so is a name that does not resolve yet (delivery checks again)
        for url in (f"https://{PUBLIC_IP}/hook", "https://dreams-receiver.invalid/hook"):
            response = post_diary(client, url)
            assert response.status_code == 202, (url, response.text)
        assert len(parked_api.service.runner.submitted) == 2


def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    only_private = ScriptedResolver(["10.0.0.5", "fd00::5"])
    assert "resolves only to non-public" in (callback_url_problem("https://hooks.example/x", allow_private=False,
                                                                  resolver=only_private) or "")
    assert callback_url_problem("https://hooks.example/x", allow_private=True, resolver=only_private) is None
    assert only_private.calls == [("hooks.example", 443)]  # allowed private: no lookup at all

    mixed = ScriptedResolver([PUBLIC_IP, "127.0.0.1"])
    assert callback_url_problem("https://hooks.example/x", allow_private=False, resolver=mixed) is None
    with pytest.raises(CallbackRefused, match=re.escape("127.0.0.1 is not public")) as refused:
        pin_target("https://hooks.example/x", allow_private=False, resolver=mixed)  # but delivery refuses
    assert refused.value.retry is False


def test_each_pin_resolves_once_and_a_rebound_name_is_refused() -> None:
    rebinding = ScriptedResolver([PUBLIC_IP], ["169.254.169.254"])
    target = pin_target("http://hooks.example:8080/x", allow_private=False, resolver=rebinding)
    assert (target.host, target.port, target.address) == ("hooks.example", 8080, PUBLIC_IP)
    with pytest.raises(CallbackRefused, match=re.escape("169.254.169.254 is not public")):
        pin_target("http://hooks.example:8080/x", allow_private=False, resolver=rebinding)
    assert rebinding.calls == [("hooks.example", 8080)] * 2

    with pytest.raises(CallbackRefused, match="does not resolve") as unresolvable:
        pin_target("http://gone.example/x", allow_private=False,
                   resolver=ScriptedResolver(socket.gaierror(-2, "Name or service not known")))
    assert unresolvable.value.retry is True


def test_the_post_goes_to_the_checked_address_whatever_dns_says_later() -> None:
    receiver = CallbackReceiver()
    port = receiver.port
    # "rebind.invalid" exists in no DNS: only the pinned address can make this POST arrive.
    rebinding = ScriptedResolver(["127.0.0.1"], ["192.0.2.1"])
    url = f"http://rebind.invalid:{port}/hook"
    try:
        target = pin_target(url, allow_private=True, resolver=rebinding)
        with pinned_client(target, timeout=5) as client:
            first = client.post(url, content=b"{}")
            second = client.post(url, content=b"{}")  # a new request on the same client: still pinned
        assert first.status_code == second.status_code == 200
        assert len(receiver.received) == 2
        assert {headers["Host"] for headers, _, _ in receiver.received} == {f"rebind.invalid:{port}"}
        assert rebinding.calls == [("rebind.invalid", port)]  # httpx never looked the name up again
    finally:
        receiver.close()


def test_a_pinned_client_follows_no_redirect_and_reaches_no_other_host() -> None:
    elsewhere = CallbackReceiver()

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", elsewhere.url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        with pinned_client(pin_target(url, allow_private=True), timeout=5) as client:
            assert client.post(url, content=b"{}").status_code == 307
            with pytest.raises(httpx.ConnectError, match=re.escape("may only go to 127.0.0.1")):
                client.post(elsewhere.url, content=b"{}")
        assert elsewhere.received == []
    finally:
        server.shutdown()
        server.server_close()
        elsewhere.close()


def callback_events(api: RunningApi, job_id: int) -> list[Any]:
    return [event for event in api.service.events(job_id) if event.kind == "callback"]


def test_an_unresolvable_host_fails_each_attempt_and_is_recorded(parked_api: RunningApi) -> None:
    from api.callbacks import CallbackDispatcher

    with parked_api.client() as client:
        job_id = post_diary(client, "https://dreams-receiver.invalid/hook").json()["job_id"]
    resolver = ScriptedResolver(socket.gaierror(-2, "Name or service not known"))
    dispatcher = CallbackDispatcher(parked_api.service, parked_api.settings, resolver=resolver)
    assert dispatcher.deliver(job_id, "done") is False
    events = callback_events(parked_api, job_id)
    assert [e.data["attempt"] for e in events] == [1, 2, 3]  # retried like any failure
    assert all(e.data["ok"] is False and "does not resolve" in e.data["error"] for e in events)
    assert len(resolver.calls) == 3  # one lookup per attempt


def test_a_name_that_turns_private_after_submission_is_refused_at_delivery(parked_api: RunningApi) -> None:
    from api.callbacks import CallbackDispatcher

    receiver = CallbackReceiver()
    port = receiver.port
    try:
        with parked_api.client() as client:
            job_id = post_diary(client, f"http://rebind.invalid:{port}/hook").json()["job_id"]
        resolver = ScriptedResolver([PUBLIC_IP, "127.0.0.1"])
        dispatcher = CallbackDispatcher(parked_api.service, parked_api.settings, resolver=resolver)
        assert dispatcher.deliver(job_id, "done") is False
        (event,) = callback_events(parked_api, job_id)  # a refusal is final: no retries
        assert "127.0.0.1 is not public" in event.message and event.data["ok"] is False
        assert receiver.received == []
    finally:
        receiver.close()


def test_a_localhost_callback_is_delivered_to_the_pinned_address_with_its_host_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api_env(monkeypatch)  # DREAMREEL_CALLBACK_ALLOW_PRIVATE=true: the receiver is on 127.0.0.1
    receiver = CallbackReceiver()
    port = receiver.port
    try:
        with running_api() as api, api.client() as client:
            response = post_diary(client, f"http://localhost:{port}/hook")
            assert response.status_code == 202, response.text
            assert receiver.delivered.wait(60)
            job_id = response.json()["job_id"]
        headers, _, status = receiver.received[0]
        assert status == 200 and headers["Host"] == f"localhost:{port}"
        assert receiver.jobs()[0]["job_id"] == job_id
    finally:
        receiver.close()


def self_signed_certificate(directory: Path, host: str) -> tuple[Path, Path]:
    """A throwaway certificate for `host` (openssl CLI, EC key: fast)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_https_to_a_pinned_address_still_sends_sni_and_checks_the_certificate_for_the_name(
    tmp_path: Path,
) -> None:
    cert, key = self_signed_certificate(tmp_path, "hooks.test")
    seen: dict[str, Any] = {"sni": [], "host": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen["host"].append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)

    def note_sni(sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        seen["sni"].append(name)

    server_context.sni_callback = note_sni
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    trusting = ssl.create_default_context(cafile=str(cert))
    try:
        url = f"https://hooks.test:{port}/hook"  # "hooks.test" is in no DNS: only the pin reaches it
        target = pin_target(url, allow_private=True, resolver=ScriptedResolver(["127.0.0.1"]))
        with pinned_client(target, timeout=5, ssl_context=trusting) as client:
            assert client.post(url, content=b"{}").status_code == 200
        assert seen == {"sni": ["hooks.test"], "host": [f"hooks.test:{port}"]}

        # the certificate is still checked against the name in the URL: another name fails
        other = f"https://other.test:{port}/hook"
        pinned = pin_target(other, allow_private=True, resolver=ScriptedResolver(["127.0.0.1"]))
        with pinned_client(pinned, timeout=5, ssl_context=trusting) as client, \
                pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            client.post(other, content=b"{}")
        assert seen["host"] == [f"hooks.test:{port}"]
    finally:
        server.shutdown()
        server.server_close()
