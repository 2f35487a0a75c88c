"""Read an X (Twitter) archive's data/tweets.js into posts: tweets, replies and retweets told apart,
and self-threads (an author replying to their own tweets) joined into one post.

The archive's .js files are JSON behind a `window.YTD.<name>.part0 = ` prefix. data/account.js, when
it is there, gives the author's id and handle: a reply to that id is part of a thread, and the
handle makes the post's URL. Without it, a reply to a tweet in the same file counts as a thread.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

from .dates import parse_date
from .files import InputFile, SkippedFile, decode_text
from .records import FileError, RawRecord

# tweets.js since 2022, tweet.js before; a large archive splits it into tweets-part1.js, ...
_TWEET_FILE = re.compile(r"tweets?(-part\d+)?\.js", re.IGNORECASE)
_RETWEETED = re.compile(r"RT @(\w+):")


def read_x_javascript(file: InputFile, limits, mapping=None) -> Iterator[RawRecord | FileError]:
    """Posts from tweets.js. The archive's other .js files (likes, followers, ads...) hold no posts of
    the author's and are passed over without a word; a .js file of no X archive is skipped with a reason."""
    if not _TWEET_FILE.fullmatch(file.name):
        if in_x_archive(file):
            return
        raise SkippedFile("skipped: only tweets.js of an X archive holds posts (and other .js files are not read)")
    tweets = [entry.get("tweet", entry) for entry in _ytd_json(file)]
    account = _account(file)
    yield from tweets_to_posts(tweets, account.get("accountId"), account.get("username"), file.source)


def in_x_archive(file: InputFile) -> bool:
    """Whether `file` is part of an X archive other than its tweets: data/*.js, the archive's own viewer
    ('Your archive.html', assets/js/...). Those hold no posts of the author's and are passed over."""
    if file.sibling is None:
        return False
    for folder in ("", "../", "../../", "data/", "../data/", "../../data/"):
        if file.sibling(folder + "tweets.js") or file.sibling(folder + "tweet.js"):
            return True
    return False


def _ytd_json(file: InputFile) -> list:
    text = decode_text(file.read_bytes())
    if not text.lstrip().startswith("window.YTD."):
        raise SkippedFile("is not an X archive file: it does not start with 'window.YTD.'; "
                          "import data/tweets.js from the archive you downloaded from X")
    try:
        data = json.loads(text.split("=", 1)[1])
    except (IndexError, json.JSONDecodeError) as error:
        raise SkippedFile(f"is an X archive file whose data is not valid JSON ({error}); download the archive again")
    if not isinstance(data, list):
        raise SkippedFile("is an X archive file without a list of tweets; download the archive again")
    return data


def _account(file: InputFile) -> dict:
    """{accountId, username} from account.js next to tweets.js, or {} when it is missing or unreadable."""
    sibling = file.sibling("account.js") if file.sibling else None
    if sibling is None:
        return {}
    try:
        entries = _ytd_json(sibling)
        return entries[0].get("account", {}) if entries and isinstance(entries[0], dict) else {}
    except SkippedFile:
        return {}


def tweets_to_posts(tweets: list[dict], account_id: str | None, username: str | None,
                    source: str) -> Iterator[RawRecord | FileError]:
    by_id = {str(t.get("id_str") or t.get("id")): t for t in tweets if isinstance(t, dict)}

    def continues_thread(tweet: dict) -> bool:
        parent = str(tweet.get("in_reply_to_status_id_str") or "")
        if not parent or parent not in by_id or _is_retweet(tweet):
            return False
        return account_id is None or str(tweet.get("in_reply_to_user_id_str") or "") == str(account_id)

    # The first (earliest) own reply to a tweet continues its thread; any later one starts its own item.
    next_in_thread: dict[str, str] = {}
    for tweet_id, tweet in sorted(by_id.items(), key=lambda pair: int(pair[0]) if pair[0].isdigit() else 0):
        if continues_thread(tweet):
            next_in_thread.setdefault(str(tweet["in_reply_to_status_id_str"]), tweet_id)
    continuation = set(next_in_thread.values())

    for tweet_id, tweet in by_id.items():
        if tweet_id in continuation:
            continue
        chain = [tweet]
        while (following := next_in_thread.get(str(chain[-1].get("id_str") or chain[-1].get("id")))) is not None:
            chain.append(by_id[following])
        yield _post(chain, username, f"{source}#{tweet_id}")


def _post(chain: list[dict], username: str | None, source: str) -> RawRecord | FileError:
    first = chain[0]
    texts = [_tweet_text(tweet) for tweet in chain]
    text = "\n\n".join(t for t in texts if t)
    if not text:
        return FileError(source, "is a tweet without text (only media)")
    ids = [str(tweet.get("id_str") or tweet.get("id")) for tweet in chain]
    if _is_retweet(first):
        kind = "retweet"
    elif len(chain) > 1:
        kind = "thread"
    elif first.get("in_reply_to_status_id_str"):
        kind = "reply"
    else:
        kind = "tweet"
    url = f"https://x.com/{username}/status/{ids[0]}" if username else f"https://x.com/i/web/status/{ids[0]}"
    metadata = {
        "platform": "x",
        "type": kind,
        "url": url,
        "likes": sum(_count(tweet.get("favorite_count")) for tweet in chain),
        "reposts": sum(_count(tweet.get("retweet_count")) for tweet in chain),
        "tweet_ids": ids,
    }
    if first.get("in_reply_to_screen_name") and kind in ("reply", "thread"):
        metadata["in_reply_to"] = "@" + first["in_reply_to_screen_name"]
    if first.get("lang"):
        metadata["lang"] = first["lang"]
    author = f"@{username}" if username else None
    if kind == "retweet":  # someone else's words: credit them, and keep who shared it
        original = _RETWEETED.match(text)
        metadata["retweeted_by"] = author
        author = "@" + original.group(1) if original else None
    return RawRecord(text=text, source=source, kind="post", title=None, author=author,
                     created_at=parse_date(first.get("created_at")), metadata=metadata)


def _tweet_text(tweet: dict) -> str:
    """The tweet's text with HTML entities undone and t.co links replaced by the links they stand for."""
    text = html.unescape(str(tweet.get("full_text") or tweet.get("text") or ""))
    entities = tweet.get("entities") or {}
    for link in entities.get("urls") or []:
        if link.get("url") and link.get("expanded_url"):
            text = text.replace(link["url"], link["expanded_url"])
    for medium in entities.get("media") or []:  # the link to the tweet's own picture says nothing
        if medium.get("url"):
            text = text.replace(medium["url"], "")
    return text.strip()


def _is_retweet(tweet: dict) -> bool:
    return bool(tweet.get("retweeted_status")) or str(tweet.get("full_text") or tweet.get("text") or "").startswith("RT @")


def _count(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
