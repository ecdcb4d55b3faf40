# ruff: noqa: E501
"""Templates of :mod:`leakguard.evaluation.devset`: two disjoint sets, in the style of assistant answers
and short user messages. ``{LABEL}`` is a labelled value, ``{~kind}`` a near-miss value
that must stay clean. See ``Values.value`` for the placeholder names.
"""

from __future__ import annotations

# fmt: off
TUNE: tuple[str, ...] = (
    # short messages
    "Please send the contract to {PERSON} at {EMAIL} before Friday.",
    "You can reach {PERSON} on {PHONE} most afternoons.",
    "{PERSON} lives at {ADDRESS_1L} and asked for a callback.",
    "my name is {PERSON} and my card number is {CARD}",
    "The invoice {~order} was paid by {PERSON} with card {CARD} on {~date}.",
    "Hi, I'm {FIRST}. My SSN is {SSN} and my phone is {PHONE}.",
    "Wire the deposit to {IBAN} (account holder: {PERSON}).",
    "Our VPN gateway moved to {IP}; the old one ({IP}) is retired after version {~version}.",
    "Driver's license number: {DL}, issued to {PERSON}.",
    "Ship it to:\n{ADDRESS_ML}",
    "Call me at {PHONE} or text {PHONE}, thanks! -- {FIRST}",
    "Order {~order} (tracking {~tracking}) is on its way to {PERSON}.",
    "I booked the meeting room for {PERSON} and {PERSON} at {~hour}.",
    "{PERSON} ({EMAIL}) reported that build {~short_sha} fails on {~timestamp}.",
    # assistant answers: lists, tables, JSON, code, signatures
    "Sure! Here are the details you asked for:\n\n- Name: {PERSON}\n- Email: {EMAIL}\n- Phone: {PHONE}\n- Address: {ADDRESS_1L}\n\nLet me know if anything else is needed.",
    "Here's the customer record:\n\n| Field | Value |\n|---|---|\n| Name | {PERSON} |\n| Phone | {PHONE} |\n| IBAN | {IBAN} |\n| Order | {~order} |",
    "```json\n{{\n  \"customer\": \"{PERSON}\",\n  \"email\": \"{EMAIL}\",\n  \"ip\": \"{IP}\",\n  \"request_id\": \"{~uuid}\"\n}}\n```",
    "I drafted the reply for you:\n\nDear {PERSON},\n\nthank you for your order {~order}. It will be delivered to\n{ADDRESS_ML}\n\nBest regards,\n{PERSON}\n{~company}\n{PHONE}",
    "To connect, use this config:\n\n```yaml\ndatabase:\n  url: {DSN}\n  pool: 5\n```\n\nThe image digest is sha256:{~sha256}.",
    "Here is the `.env` you shared, with the problem lines:\n\n```\nAWS_ACCESS_KEY_ID={SECRET}\nAPP_VERSION={~version}\nBUILD_SHA={~sha}\n```",
    "The token in your curl command is exposed: `curl -H \"Authorization: Bearer {SECRET}\" https://api.example.com/v1/items`. Rotate it.",
    "Your commit {~sha} added a credential to the repo:\n\n{TOKEN}\n\nRemove it and rewrite the history.",
    "**Summary of the ticket**\n\n1. Reporter: {PERSON}\n2. Contact: {PHONE}\n3. Affected host: {IP}\n4. Trace id: {~uuid}\n5. Logged at {~timestamp}",
    "Thanks, {FIRST}! I've updated the shipping address to {ADDRESS_1L}. Your order total is {~price}.",
    "Contact sheet:\nNAME: {PERSON}\nPHONE: {PHONE}\nE-MAIL: {EMAIL}\nSSN: {SSN}",
    "{PERSON}\n{ADDRESS_ML}\n{PHONE}\n{EMAIL}",
    "Hello {FIRST},\n\nYour password was reset to {PASSWORD}. Please change it after logging in from {IP}.\n\nCheers,\nThe {~company} team",
    "The logo is embedded as {~image} and the checksum is {~md5}.",
    "In {~city}, {PERSON} of {~company} ordered {~count} units of {~product}.",
    "Mr. {LAST} asked whether the card {CARD} can be charged again; his license is {DL}.",
    "api_key = \"{SECRET}\"\nrelease = \"{~version}\"\nbuild_id = \"{~uuid}\"",
)

HELDOUT: tuple[str, ...] = (
    # short messages
    "Can you update the delivery address to {ADDRESS} for {PERSON}?",
    "{PERSON} called from {PHONE} about the refund.",
    "Please charge {CARD} and email the receipt to {EMAIL}.",
    "the account belongs to {PERSON}, ssn {SSN}",
    "Forward this to {FIRST} {LAST}; their direct line is {PHONE}.",
    "Payment details — IBAN: {IBAN}, reference {~order}.",
    "Login attempts from {IP} and {IP} were blocked at {~hour}.",
    "My driving licence is {DL} and my date of birth is {~date}.",
    "We met {PERSON} in {~city} last week; she now works for {~company}.",
    "Send the parcel to {ADDRESS_ML} before {~date}, please.",
    "Ticket {~order}: {PERSON} cannot log in since release {~version}.",
    "Good morning {FIRST}, your appointment with Dr. {LAST} is confirmed.",
    # assistant answers
    "Of course. Here is the summary in JSON:\n\n```json\n{{\"name\": \"{PERSON}\", \"phone\": \"{PHONE}\", \"address\": \"{ADDRESS_1L}\", \"card\": \"{CARD}\"}}\n```",
    "### Contacts\n\n| Name | Role | Phone | Email |\n|------|------|-------|-------|\n| {PERSON} | Manager | {PHONE} | {EMAIL} |\n| {PERSON} | Engineer | {PHONE} | {EMAIL} |",
    "Below is the letter, ready to print:\n\n{PERSON}\n{ADDRESS_ML}\n\nTo whom it may concern,\n\nI hereby confirm the transfer to {IBAN}.\n\nSincerely,\n{PERSON}",
    "I found these credentials in the log you pasted:\n\n* Slack token: {SECRET}\n* Stripe key: {SECRET}\n* Request id: {~uuid}\n* Commit: {~short_sha}\n\nRevoke them immediately.",
    "Your docker-compose file contains `DATABASE_URL: {DSN}`; move it into a secret.",
    "Here is an example request:\n\n```python\nclient = Client(token=\"{SECRET}\", timeout=30)\nclient.get(\"/users/{~uuid}\")\n```",
    "- **Patient:** {PERSON}\n- **SSN:** {SSN}\n- **Home address:** {ADDRESS}\n- **Phone:** {PHONE}\n- **Visit:** {~timestamp}",
    "According to the file, {PERSON} (driver license {DL}) rented a {~product} on {~date} for {~price}.",
    "Kind regards,\n\n{PERSON}\nHead of Operations, {~company}\nTel. {PHONE}\nMob. {PHONE}\n{EMAIL}",
    "The session JWT is {TOKEN}; the file hash is {~sha256} and it was uploaded at {~epoch}.",
    "Thank you, {FIRST}. I've noted that you moved to\n{ADDRESS_ML}\nand that your new number is {PHONE}.",
    "password for {EMAIL} is {PASSWORD} (don't share it)",
    "NAME: {PERSON} | CARD: {CARD} | ISBN ordered: {~isbn} | qty {~count}",
)
# fmt: on

# Written last, after tuning on TUNE and a look at HELDOUT's misses: scored, never studied.
FRESH: tuple[str, ...] = (
    "hey its {FIRST}, my number changed to {PHONE}",
    "{PERSON} <{EMAIL}> wrote on {~date}: please refund card {CARD}.",
    "Reminder: {PERSON} is flying to {~city} on {~date}; booking ref {~order}.",
    "name,email,phone\n{PERSON},{EMAIL},{PHONE}\n{PERSON},{EMAIL},{PHONE}",
    '<customer id="{~uuid}">\n  <name>{PERSON}</name>\n  <iban>{IBAN}</iban>\n</customer>',
    "From: {PERSON} <{EMAIL}>\nTo: {PERSON} <{EMAIL}>\nSubject: Invoice {~order}\n\nHi {FIRST}, the amount is {~price}.",
    "1. Verify the caller ({PERSON}) with SSN {SSN}.\n2. Confirm the address:\n{ADDRESS_ML}\n3. Close ticket {~order}.",
    "[{~timestamp}] INFO login ok user={EMAIL} ip={IP} build={~short_sha}",
    "Can {FIRST} pick up the keys at {ADDRESS_1L}? Call {PHONE} first.",
    "The DL on file ({DL}) expired; {PERSON} must renew it before {~date}.",
    "Your GitHub token {TOKEN} was pushed in commit {~sha}. Revoke it now.",
    "Employee record\n  Name ........ {PERSON}\n  Phone ....... {PHONE}\n  Home ........ {ADDRESS_1L}\n  Bank ........ {IBAN}",
    "I'll ask {PERSON} and {PERSON} to review version {~version} tomorrow.",
    "Accepted: {PERSON} ({EMAIL}), card ending {~count}, tracking {~tracking}.",
)
