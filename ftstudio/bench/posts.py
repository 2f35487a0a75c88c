"""Synthetic LinkedIn-style posts for `ftstudio bench train`: seeded, on a few topics, log-normally long."""

from __future__ import annotations

import math
import random

TOPICS = {
    "remote work": [
        "Our {team} team has been fully remote for {n} months now, and the biggest change was writing things down.",
        "Meetings dropped by {pct}% once we moved status updates into a shared document.",
        "The hardest part was not the tooling but trusting people to manage their own {weekday}s.",
        "We still meet in {city} once a quarter, mostly to argue about whiteboards.",
        "Async work rewards clear writing, so we started reviewing memos like we review code.",
        "New hires get a buddy for their first {n} weeks, which cut onboarding questions in half.",
    ],
    "dashboards": [
        "We retired {n} dashboards last quarter and nobody noticed, which says everything.",
        "A dashboard nobody opens is a cost, not an asset, no matter how pretty the charts are.",
        "The {team} team now starts every metric with the decision it is supposed to change.",
        "Our weekly review fits on one page: three numbers, their trend, and what we will do on {weekday}.",
        "Forecasts beat gut feeling only when the data underneath is clean, and ours was {pct}% duplicates.",
        "If a chart needs a legend to be understood, it probably needs a sentence instead.",
    ],
    "hiring": [
        "We reviewed {n} applications for one {team} role and learned more about our job ad than the candidates.",
        "Take-home tasks longer than two hours filter for free time, not for skill.",
        "Every interviewer now writes feedback before talking to the others, which removed a lot of anchoring.",
        "Our best hire this year came from a referral in {city} and had never used our stack.",
        "Rejection emails within {n} days improved our candidate survey by {pct} points.",
        "Structured interviews felt stiff at first, then they made our decisions far easier to explain.",
    ],
    "logistics": [
        "The pallets for {city} left the depot on {weekday}, two days ahead of the plan.",
        "Late deliveries fell by {pct}% after we moved the cut-off to the afternoon.",
        "Our {team} crew rebuilt the picking route and saved {n} minutes per shift.",
        "A strike in {city} delayed the trucks, so we rerouted through the northern depot.",
        "Shipment tracking only helps customers when the estimate is honest, even when it is bad news.",
        "We now load the heaviest orders first, which sounds obvious and took us {n} years to do.",
    ],
    "product launches": [
        "We shipped version {n} of the app on {weekday}, after a beta with {pct} customers in {city}.",
        "The feature people asked for most turned out to be a better export button.",
        "Our {team} team wrote the release notes before writing the code, and the scope got smaller.",
        "Launch day was quiet, which is exactly what a staged rollout is supposed to feel like.",
        "Support tickets dropped by {pct}% in the first week, mostly thanks to clearer error messages.",
        "We cut three features a week before launch and nobody has asked for them since.",
    ],
}
OPENERS = ["Quick thought from this week.", "A small lesson we learned the hard way.", "Some numbers from {city}.",
           "Something I keep repeating to the {team} team.", "Here is what changed for us."]
CLOSERS = ["Curious how others handle this.", "What would you have done differently?",
           "More on this next {weekday}.", "Thanks to everyone on the {team} team.", "#{tag} #lessonslearned"]
TEAMS = ["platform", "data", "ops", "support", "design", "sales", "warehouse", "finance"]
CITIES = ["Lyon", "Osaka", "Lagos", "Porto", "Gdansk", "Austin", "Leeds", "Pune"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
AUDIENCES = ["engineering managers", "founders", "operations leads", "new graduates", "data teams"]


def _fill(rng: random.Random, text: str, topic: str) -> str:
    return text.format(team=rng.choice(TEAMS), city=rng.choice(CITIES), weekday=rng.choice(WEEKDAYS),
                       n=rng.randint(2, 40), pct=rng.randint(5, 60), tag=topic.replace(" ", ""))


def synthetic_posts(tokenizer, count: int, seed: int = 0, low: int = 20, high: int = 500) -> list[dict]:
    """Prompt/completion pairs whose completions are log-normally long (median ~110 tokens, clipped to low..high)."""
    rng = random.Random(seed)
    posts = []
    for _ in range(count):
        topic = rng.choice(sorted(TOPICS))
        target = int(min(high, max(low, rng.lognormvariate(math.log(110), 0.75))))
        size = "short" if target < 80 else "medium-length" if target < 200 else "long"
        sentences = [_fill(rng, rng.choice(OPENERS), topic)]
        length = len(tokenizer(sentences[0], add_special_tokens=False)["input_ids"])
        while length < target:
            sentence = _fill(rng, rng.choice(TOPICS[topic] + CLOSERS[:1]), topic)
            length += len(tokenizer(" " + sentence, add_special_tokens=False)["input_ids"])
            sentences.append(sentence)
        sentences.append(_fill(rng, rng.choice(CLOSERS), topic))
        paragraphs = [" ".join(sentences[i:i + 3]) for i in range(0, len(sentences), 3)]
        posts.append({"input": f"Write a {size} LinkedIn post about {topic} for {rng.choice(AUDIENCES)}.",
                      "output": "\n\n".join(paragraphs)})
    return posts


def rendered_pairs(posts: list[dict], tokenizer) -> list[dict]:
    """Prompt and completion text exactly as the studio renders them (the base model's chat template)."""
    from ftstudio.templates import Template, render

    pairs = []
    for post in posts:
        rendered = render(Template("chat"), post, tokenizer)
        pairs.append({"prompt": rendered.prompt, "completion": rendered.completion})
    return pairs
