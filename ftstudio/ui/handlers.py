"""The one wrapper every event handler goes through: who is calling, may they, which project, and errors as
messages.

A handler is written as `fn(project, *widget_values)` (or `fn(*widget_values)` with `project=False`), with
`caller` before them when it records who acted, and registered as `guard("label", fn)`. The caller comes from the
request Gradio is serving (its login cookie or its OAuth session), never from the request body.

Hiding a button or an endpoint is not a permission: `api_visibility="private"` endpoints can still be called
over /gradio_api/queue/join by fn_index, so the check lives here, in the function itself, and
`unguarded_handlers` lets the app refuse to start with a handler that skips it.
"""

from __future__ import annotations

import functools
import inspect
import time
import typing
from typing import Callable

import gradio as gr
# Gradio sets this for every event it runs (in the thread that runs it); reading it lets one wrapper serve
# handlers of any shape, *args ones included. Without it the caller is nobody, so a change fails closed.
from gradio.context import LocalContext

from ftstudio.access import AccessDenied, AccessPolicy, Caller, require
from ftstudio.store import Store, StoreError


class Guard:
    """Built once per app from the store and the access policy; `guard(action, fn)` wraps one handler."""

    def __init__(self, store: Store, policy: AccessPolicy):
        self.store = store
        self.policy = policy

    def caller(self, request: gr.Request | None) -> Caller:
        """The caller behind the request Gradio is serving: its login cookie, or its OAuth session."""
        if self.policy.mode == "oauth":
            return self.policy.caller_for_profile(_session_userinfo(request))
        if self.policy.mode == "password":
            return self.policy.caller_for_login(getattr(request, "username", None) if request else None)
        return self.policy.caller_for_login(None)

    def __call__(self, action: str, fn: Callable, project: bool = True, quiet: bool = False) -> Callable:
        """`quiet`: for passive events (page load, tab select, timers), a refusal changes nothing on screen
        instead of raising an error the person did not ask for; the handler still does not run."""
        signature = inspect.signature(fn)
        # A handler that records who did something takes `caller` first; the rest need only the check.
        takes_caller = next(iter(signature.parameters), None) == "caller"
        store = self.store

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            try:
                caller = require(self.caller(LocalContext.request.get(None)), action)
            except AccessDenied as error:
                if quiet:
                    return gr.skip()
                raise gr.Error(str(error), print_exception=False) from None
            if project:
                name = args[0]
                args = (store.find_project(name) if name else None, *args[1:])
            try:
                return fn(caller, *args, **kwargs) if takes_caller else fn(*args, **kwargs)
            except StoreError as error:  # what a handler did not turn into a message of its own: still a message
                raise gr.Error(str(error), print_exception=False) from None

        # Gradio reads the widget parameters (and gr.Request, gr.Progress, gr.SelectData) from the signature and
        # the type hints: the wrapper shows the handler's own, less the caller.
        del wrapped.__wrapped__
        wrapped.__signature__ = signature.replace(parameters=list(signature.parameters.values())[int(takes_caller):])
        try:  # resolved in the handler's module: `from __future__ import annotations` leaves strings
            hints = typing.get_type_hints(fn)
        except (NameError, TypeError):
            hints = {}
        wrapped.__annotations__ = {k: v for k, v in hints.items() if k != "caller"}
        wrapped.ftstudio_action = action
        return wrapped


def _session_userinfo(request: gr.Request | None) -> dict | None:
    """The Hugging Face profile of a signed-in session (server-side, signed cookie), None when signed out or
    expired. Never from the request body: an `oauth_token` there is whatever the caller typed."""
    try:
        info = request.session.get("oauth_info") if request is not None else None
    except (AttributeError, AssertionError):  # no session middleware: nobody can be signed in
        return None
    if not info or (info.get("expires_at") is not None and info["expires_at"] < time.time()):
        return None
    return info.get("userinfo")


def unguarded_handlers(app: gr.Blocks) -> list[str]:
    """Names of the app's event handlers that do not go through a Guard (the app refuses to start with any)."""
    missing = []
    for block_function in app.fns.values():
        fn = block_function.fn
        if fn is not None and not hasattr(fn, "ftstudio_action"):
            missing.append(getattr(fn, "__qualname__", repr(fn)))
    return missing
