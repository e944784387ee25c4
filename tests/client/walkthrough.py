"""The README's walk-through, through clients generated from Prism's OpenAPI documents.

`tests/walkthrough.rs` generates `prism_write` and `prism_read` with openapi-python-client from
the running binary's `/openapi.json` and runs this with them on `PYTHONPATH`. Every call goes
through a generated function with the generated models: if the documents name a route,
parameter, header or body wrongly, this fails.

Environment: WRITE_URL, READ_URL (the two APIs), OUTBOX (where the mail worker writes `.eml`
files when no SMTP relay is configured).
"""

import glob
import json
import os
import re
import sys
import time
import uuid

from prism_read import AuthenticatedClient as ReadClient
from prism_read.api.me import get_me
from prism_read.api.messages import get_channels_id_messages
from prism_write import AuthenticatedClient, Client
from prism_write.api.auth import post_auth_register, post_auth_verify_email
from prism_write.api.channels import post_workspaces_id_channels
from prism_write.api.messages import post_channels_id_messages
from prism_write.api.workspaces import post_workspaces
from prism_write.models import (
    NameInput,
    PostInput,
    RegisterInput,
    TokensAnswer,
    VerifyEmailInput,
)


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def link_token(outbox, to, marker):
    deadline = time.time() + 30
    while time.time() < deadline:
        for path in sorted(glob.glob(os.path.join(outbox, "*.eml"))):
            # Quoted-printable mail may fold long lines with a trailing `=`.
            text = open(path, encoding="utf-8", errors="replace").read().replace("=\r\n", "").replace("=\n", "")
            if to not in text:
                continue
            m = re.search(re.escape(marker) + r"([A-Za-z0-9_-]+)", text)
            if m:
                return m.group(1)
        time.sleep(0.1)
    check(False, f"a mail with {marker} in {outbox}")


def main():
    write_url, read_url, outbox = os.environ["WRITE_URL"], os.environ["READ_URL"], os.environ["OUTBOX"]
    public = Client(base_url=write_url)

    # Register: an access token and a refresh token.
    email = f"ann-{uuid.uuid4().hex[:8]}@example.com"
    reg = post_auth_register.sync_detailed(
        client=public, body=RegisterInput(email=email, password="correct horse battery", name="Ann")
    )
    check(reg.status_code == 201 and isinstance(reg.parsed, TokensAnswer), f"register: {reg.status_code} {reg.content!r}")
    token = reg.parsed.access_token
    writer = AuthenticatedClient(base_url=write_url, token=token)
    reader = ReadClient(base_url=read_url, token=token)

    # Confirm the address with the link from the mail.
    verify = link_token(outbox, email, "verify-email?token=")
    res = post_auth_verify_email.sync_detailed(client=public, body=VerifyEmailInput(token=verify))
    check(res.status_code == 200, f"verify-email: {res.status_code} {res.content!r}")

    # A workspace and a channel in it.
    ws = post_workspaces.sync_detailed(client=writer, body=NameInput(name="Acme"))
    check(ws.status_code == 201, f"workspace: {ws.status_code} {ws.content!r}")
    ch = post_workspaces_id_channels.sync_detailed(id=ws.parsed.id, client=writer, body=NameInput(name="general"))
    check(ch.status_code == 201, f"channel: {ch.status_code} {ch.content!r}")

    # A message under an Idempotency-Key; the same request again appends nothing.
    first = post_channels_id_messages.sync_detailed(
        id=ch.parsed.id, client=writer, body=PostInput(body="hello"), idempotency_key="first-hello"
    )
    check(first.status_code == 201, f"message: {first.status_code} {first.content!r}")
    again = post_channels_id_messages.sync_detailed(
        id=ch.parsed.id, client=writer, body=PostInput(body="hello"), idempotency_key="first-hello"
    )
    check(again.status_code in (200, 201), f"repeat: {again.status_code} {again.content!r}")
    check(
        (again.parsed.id, again.parsed.position) == (first.parsed.id, first.parsed.position),
        "a repeat answers the first answer",
    )

    # Read it back from the read API, waiting for exactly that write.
    page = get_channels_id_messages.sync_detailed(
        id=ch.parsed.id, client=reader, x_min_position=str(first.parsed.position)
    )
    check(page.status_code == 200, f"messages: {page.status_code} {page.content!r}")
    items = json.loads(page.content)["items"]
    check([m["body"] for m in items] == ["hello"], f"one message, hello: {items}")
    me = get_me.sync_detailed(client=reader)
    check(me.status_code == 200 and json.loads(me.content)["email_verified"] is True, f"me: {me.content!r}")
    print("the generated clients ran the walk-through")


if __name__ == "__main__":
    main()
