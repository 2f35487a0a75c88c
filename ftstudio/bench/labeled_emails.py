"""A generated, labeled support inbox for `ftstudio bench classify`: about two legitimate emails for every phishing
one, as in the sample inbox, and some hard ones on purpose: legitimate mail that talks about passwords, invoices
and urgent payments (IT notices, finance reminders), and phishing that is polite, has no link, and reads like a
colleague (gift cards, changed bank details). A share of labels is flipped, as in any real labeled inbox, so no
classifier reaches 100%."""

from __future__ import annotations

import random

from ftstudio.bench.synthetic import FIRST, LAST

LEGITIMATE = [
    "Could you confirm the delivery window for the {n} pallets we booked last week?",
    "The forecast for the northern depots came in {n}% above plan, mostly seasonal.",
    "Please find the signed copy of contract {n} attached; let me know if anything is missing.",
    "We moved the stand-up to 9:30 so the warehouse team can join.",
    "Thanks for the quick turnaround, the customer was happy with the new ETA.",
    "Shipment NW-{n} left Rotterdam this morning and should reach Lyon on Thursday.",
    "I'll be out on Friday; {name} will cover the escalations queue.",
    "Two cartons of order {n} arrived damaged; photos are in the claim form.",
    "Customs cleared the container, the broker's invoice follows separately.",
    "Can we get read-only API access for the analytics contractor until March?",
]
LEGITIMATE_HARD = [  # legitimate, with the words phishing uses
    "Reminder from IT: passwords expire every 90 days; change yours from the usual portal when prompted.",
    "Invoice {n} is now 30 days overdue according to our ledger; could you check with your accounts team?",
    "Urgent: the truck for order {n} is waiting at gate 4, please confirm the dock today.",
    "Our bank details are unchanged; please keep paying to the account on the original contract.",
    "Security notice: we enabled two-factor sign-in for the dashboard, nothing for you to do.",
]
PHISHING = [
    "Your account will be suspended unless you verify your details within 24 hours: http://northwind-secure.example.net/{n}",
    "Click the link below to release your package {n}: http://northwind-freiqht.example.net/track",
    "Your mailbox is full. Validate your password here to keep receiving mail: http://mail-quota.example.net",
    "A customs fee of $2.99 is due for parcel {n}. Pay now to avoid return: http://parcel-fee.example.net",
    "Unusual sign-in detected from 203.0.113.{n}. Confirm it was you: http://account-check.example.net",
    "You have a new voicemail ({n} s). Listen with your email password: http://voice-portal.example.net",
]
PHISHING_HARD = [  # phishing without a link or a threat
    "Hi, are you at your desk? I need you to buy {n} gift cards for a client today, I'll explain later. {name}",
    "Please note we changed banks: pay invoice {n} to our new account from now on, details to follow by reply.",
    "Quick favour, can you send me the payroll file for this month? I'm travelling and can't log in. {name}",
    "Following our call, kindly update the vendor record with the new IBAN before Friday's payment run.",
]
SUBJECTS = ["Re: shipment {n}", "Invoice {n}", "Quick question", "Action needed", "Delivery window", "Follow-up",
            "Your account", "Account update", "Pallet booking {n}", "Payment details"]


def labeled_emails(count: int = 2400, seed: int = 0, hard_share: float = 0.2, noise: float = 0.03) -> list[dict]:
    """`count` emails as {text, label} (phishing or legitimate), shuffled, reproducible from `seed`."""
    rng = random.Random(seed)
    emails = []
    for n in range(count):
        phishing = rng.random() < 1 / 3
        hard = rng.random() < hard_share
        pool = (PHISHING_HARD if hard else PHISHING) if phishing else (LEGITIMATE_HARD if hard else LEGITIMATE)
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        lines = [rng.choice(pool).format(n=rng.randint(2, 999), name=name)]
        # Filler from the other class's everyday pool too, so single words do not give the label away.
        for _ in range(rng.randint(0, 2)):
            lines.append(rng.choice(LEGITIMATE).format(n=rng.randint(2, 999), name=name))
        rng.shuffle(lines)
        subject = rng.choice(SUBJECTS).format(n=rng.randint(2, 999))
        text = f"Subject: {subject}\nFrom: {name}\n\n" + "\n".join(lines) + f"\n\nBest,\n{name.split()[0]}"
        label = "phishing" if phishing else "legitimate"
        if rng.random() < noise:
            label = "legitimate" if phishing else "phishing"
        emails.append({"text": text, "label": label, "hard": hard})
    return emails
