"""The CLI's `users` command: the studio's users file (FTSTUDIO_USERS), with salted password hashes and roles.
Thin over ftstudio.access.UserBook; the app reads the same file at every login."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from ftstudio.access import ROLES, UserBook, UsersFileError
from ftstudio.cli.common import print_result


def _book(args) -> UserBook:
    path = args.file or os.environ.get("FTSTUDIO_USERS")
    if not path:
        raise UsersFileError("Say which users file: --file PATH, or set FTSTUDIO_USERS (the app reads the same "
                             "variable; with it set, the app asks everyone to sign in).")
    return UserBook(Path(path))


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():  # getpass would fall back to reading standard input, and fail on its end
        raise UsersFileError(f"There is no terminal to type {args.name}'s password at: pass --password-stdin and "
                             f"give it on standard input (`ftstudio users add {args.name} --password-stdin < FILE`).")
    first = getpass.getpass(f"Password for {args.name}: ")
    if first != getpass.getpass("Again: "):
        raise UsersFileError("The two passwords differ; nothing was saved.")
    return first


def cmd_users(args) -> int:
    try:
        book = _book(args)
        if args.action == "add":
            user = book.add(args.name, args.role, _password(args))
            print_result(user, args.json, f"Added {user['name']} ({user['role']}) to {book.path}.")
        elif args.action == "remove":
            book.remove(args.name)
            print_result({"removed": args.name}, args.json, f"Removed {args.name} from {book.path}.")
        elif args.action == "set-role":
            user = book.set_role(args.name, args.role)
            print_result(user, args.json, f"{user['name']} is now {user['role']}.")
        else:
            users = book.list()
            print_result(users, args.json, "\n".join(f"{u['name']}\t{u['role']}" for u in users) or "No users yet.")
    except UsersFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def register(commands) -> None:
    users = commands.add_parser(
        "users", help="Add, remove and list the people who may sign in, and their roles.",
        description="Manage the users file named by FTSTUDIO_USERS (or --file). Roles: admin (settings, projects, "
                    "training, deletion, users), annotator (labeling), reviewer (blind review and results).")
    users.add_argument("action", choices=["add", "remove", "list", "set-role"], help="What to do.")
    users.add_argument("name", nargs="?", help="The user's sign-in name (add, remove, set-role).")
    users.add_argument("--role", choices=ROLES, default="annotator", help="The user's role [annotator].")
    users.add_argument("--file", help="The users file (default: $FTSTUDIO_USERS).")
    users.add_argument("--password-stdin", action="store_true",
                       help="Read the password from the first line of standard input instead of prompting.")
    users.add_argument("--json", action="store_true", help="Print JSON.")
    users.set_defaults(func=_checked)


def _checked(args) -> int:
    if args.action != "list" and not args.name:
        print(f"error: `ftstudio users {args.action}` needs a user name.", file=sys.stderr)
        return 2
    return cmd_users(args)
