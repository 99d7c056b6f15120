"""The GitHub stand-in holds itself and the client to GitHub's official OpenAPI description.

tests/helpers/github_stub.py checks every request and answer against the excerpt of
@octokit/openapi in tests/helpers/github_openapi.json. These tests show that a request or an
answer GitHub's description does not allow fails the test that made it (the stub answers 500
naming the mismatch, and raises when stopped), and that the excerpt is whole.
"""

from __future__ import annotations

import pytest

from modelpins.github_api import GitHubAPI, GitHubError
from tests.helpers import github_openapi
from tests.helpers.github_stub import GitHubStub

PR = 7


@pytest.fixture
def stub():
    s = GitHubStub().start()
    yield s
    if s.server:
        s.server.shutdown()


def client(stub: GitHubStub) -> GitHubAPI:
    return GitHubAPI(stub.token, stub.repo, stub.url)


def refused(stub: GitHubStub, method: str, path: str, body: dict[str, object] | None = None) -> str:
    """The client's error for a request the stub refused, after checking stop() fails the test."""
    with pytest.raises(GitHubError) as err:
        client(stub).request(method, path, body)
    assert err.value.status == 500
    with pytest.raises(AssertionError, match="OpenAPI description") as failed:
        stub.stop()
    assert str(err.value).split(": 500 ", 1)[1] in str(failed.value)
    return str(err.value)


def test_a_method_the_path_does_not_have_fails(stub):
    message = refused(stub, "DELETE", f"/repos/{stub.repo}/issues/{PR}/comments")
    assert "Operation delete not found" in message


def test_a_path_github_does_not_have_fails(stub):
    message = refused(stub, "GET", f"/repos/{stub.repo}/issue/{PR}/comments")
    assert "no path of github_openapi.json matches" in message


def test_a_request_body_the_operation_does_not_take_fails(stub):
    message = refused(stub, "POST", f"/repos/{stub.repo}/issues/{PR}/comments", {"text": "hello"})
    assert "'body' is a required property" in message
    assert stub.comments == {}  # nothing was posted


def test_a_query_parameter_of_the_wrong_type_fails(stub):
    message = refused(stub, "GET", f"/repos/{stub.repo}/issues/{PR}/comments?per_page=many")
    assert "per_page" in message


def test_an_answer_that_drifted_from_the_schema_fails(stub):
    comment = stub.add_comment(PR, "hello", "bob")
    del comment["node_id"]
    with pytest.raises(GitHubError, match=r"'node_id' is a required property at \$\[0\]"):
        list(client(stub).pages(f"/repos/{stub.repo}/issues/{PR}/comments"))
    with pytest.raises(AssertionError, match="node_id"):
        stub.stop()


def test_the_clients_calls_and_the_stubs_answers_fit(stub):
    stub.teams[("acme", "ml")] = {"alice"}
    stub.add_review(PR, "alice", "APPROVED", "abc")
    api = client(stub)
    assert api.upsert_comment(PR, "plan")[0] == "created"
    assert api.upsert_comment(PR, "plan 2")[0] == "updated"
    assert api.create_pull("Promote", "promote", "main", "body")["number"] == 1
    assert [r.login for r in api.reviews(PR)] == ["alice"]
    assert api.team_member("acme", "ml", "alice") is True
    assert api.team_member("acme", "ml", "bob") is False
    assert api.team_member("acme", "nobody", "bob") is None
    with pytest.raises(GitHubError, match="401 Bad credentials"):
        GitHubAPI("wrong", stub.repo, stub.url).request("GET", f"/repos/{stub.repo}/issues/{PR}/comments")
    stub.stop()  # raises on any mismatch
    assert stub.mismatches == []


def test_the_excerpt_holds_every_component_it_refers_to():
    excerpt = github_openapi.description()
    assert list(excerpt["paths"]) == list(github_openapi.PATHS)
    assert github_openapi.excerpt(excerpt) == excerpt  # closed under $ref: nothing dangles


def test_the_excerpt_describes_the_api_version_the_client_asks_for():
    # @octokit/openapi describes REST API version 2022-11-28, the one modelpins sends in
    # X-GitHub-Api-Version; later versions' changes are listed per operation under
    # x-github-breaking-changes. None may touch an operation modelpins uses unnoticed.
    session = GitHubAPI("t", "acme/models")._session
    assert session.headers["X-GitHub-Api-Version"] == "2022-11-28"
    paths = github_openapi.description()["paths"]
    changed = [(p, m) for p, item in paths.items() for m, op in item.items() if "x-github-breaking-changes" in op]
    assert changed == []
