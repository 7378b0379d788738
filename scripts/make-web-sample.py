#!/usr/bin/env python3
"""Writes examples/web/pages.warc.gz, the small crawl that pipelines/web.yaml runs on, with
warcio (the WARC library of the Python ecosystem): a warcinfo record, request/response pairs of
HTML pages written for millstone (no scraped text), a 404, an image and a page in German.

Each page is there for one step of the pipeline; tests/web_pipeline.rs asserts where every
record ends. Deterministic: fixed dates and record ids, so re-running gives the same file.

    python -m venv /tmp/venv && /tmp/venv/bin/pip install warcio
    /tmp/venv/bin/python scripts/make-web-sample.py examples/web/pages.warc.gz
"""

import io
import sys

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

NAV = """<header><nav><a href="/">Home</a> | <a href="/city">City</a> | <a href="/sport">Sport</a> |
<a href="/weather">Weather</a> | <a href="/subscribe">Subscribe</a></nav></header>"""
FOOTER = """<footer><p>Copyright 2026. All rights reserved.</p><p><a href="/privacy">Privacy</a> |
<a href="/terms">Terms</a> | <a href="/contact">Contact us</a></p></footer>"""


def page(title, paragraphs, lang="en", extra=""):
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head>
<body>{NAV}
<main><article><h1>{title}</h1>
{body}
{extra}</article></main>
{FOOTER}</body></html>"""


FERRY = [
    "The harbour authority will change the winter ferry timetable from the first Monday of January, adding an early crossing for commuters who start work before seven.",
    "Officials said the new six fifteen departure was the most requested change in a survey of more than two thousand regular passengers last autumn.",
    "The last evening boat will leave twenty minutes later on Fridays, which the authority hopes will ease the crowding that builds on the pier after concerts in the old town.",
    "Fares stay the same for the rest of the season. Monthly passes bought before the change remain valid, and the ticket machines at both terminals will be updated over the holidays.",
    "A spokesperson for the crew union welcomed the extra crossing but asked for a second deckhand on the early boat while the mornings are still dark.",
]
LIBRARY = [
    "After eighteen months of repairs, the central library on Mill Street opened its doors again on Saturday morning, and a queue had formed long before the clock struck nine.",
    "The roof, which leaked for years above the reading room, has been replaced, and the old card catalogue cabinets now hold seeds that visitors can borrow for their gardens.",
    "Children were the first through the doors, heading for a new corner with low shelves, cushions and a puppet theatre built by volunteers from the woodworking club.",
    "The head librarian said that lending will be free for the first month and that the evening opening on Thursdays will return once more staff have been hired.",
    "Several readers returned books they had borrowed before the closure, and the library has promised that no late fees will be charged for them.",
]
BRIDGE = [
    "Engineers began repairs on the north bridge on Tuesday, closing one lane in each direction for what the council expects to be eleven weeks of work.",
    "Inspections in the spring found corroded steel in two of the supports and cracks in the concrete deck near the eastern ramp, though the bridge was judged safe for traffic.",
    "Buses will keep their usual routes, but drivers are advised to allow an extra quarter of an hour at peak times and to use the ring road where they can.",
    "The footpath on the west side stays open throughout, and cyclists will have a marked lane separated from the traffic by concrete barriers.",
    "The council said the cost of the work is covered by the road maintenance budget and that no other projects will be delayed because of it.",
]
# The same story as BRIDGE, republished by an aggregator with a new first and last sentence.
BRIDGE_REPRINT = [
    "From our partners: engineers began repairs on the north bridge on Tuesday, closing one lane in each direction for what the council expects to be eleven weeks of work.",
] + BRIDGE[1:] + ["This article was first published by the Valley Times and is republished with permission."]
BEES = [
    "Beekeepers in the valley report that their colonies came through the mild winter in good health, with losses well below those of the last three years.",
    "A survey by the local association counted more than four hundred hives, and members say the early blossom of the orchards gave the bees a strong start.",
    "Reader puzzle of the week: A farmer has seventeen sheep and all but nine run away through a hole in the fence, so how many sheep does the farmer have left?",
    "The association will hold an open day at the community garden next month, where visitors can watch a hive through a glass panel and taste honey from different streets of the town.",
    "Members also asked gardeners to leave some corners of their lawns unmown, since clover and dandelions feed the bees when little else is in flower.",
]
GARDEN = [
    "Pupils at the primary school on Hill Road have turned a corner of their playground into a vegetable garden, and the first potatoes were dug up on Wednesday.",
    "The project began as a lesson about where food comes from, but parents and neighbours soon joined in, building raised beds from old pallets and a shed from donated timber.",
    "Each class looks after its own bed, and the children keep a diary of the weather, the seedlings and the snails that keep eating their lettuce.",
    "The head teacher said the garden has changed how the children talk about vegetables, and that the school kitchen will cook with its harvest in the autumn term.",
    "A local nursery has offered fruit bushes for the spring, and the pupils are already arguing about whether to plant raspberries or gooseberries first.",
]
MARKT = [
    "Der Wochenmarkt auf dem Rathausplatz zieht im kommenden Frühjahr an den Hafen um, weil der Platz wegen der Bauarbeiten an der Tiefgarage für mehrere Monate gesperrt wird.",
    "Die Händler haben sich nach einer Versammlung am Montagabend mehrheitlich für den neuen Standort ausgesprochen, obwohl einige eine geringere Kundschaft befürchten.",
    "Die Stadt verspricht zusätzliche Fahrradständer und eine bessere Beschilderung, damit die Besucher den Markt auch am neuen Ort schnell finden.",
    "Geöffnet bleibt der Markt wie bisher am Mittwoch und am Samstag von sieben bis dreizehn Uhr.",
]
SPAM = [
    "Win big tonight with the best online bonus offers, claim your free spins now and double your first deposit with our exclusive codes for new players.",
    "Thousands of players already trust our reviews of the top sites, so sign up today and start winning real money from the comfort of your home.",
]
TAGS = page("Tags", [], extra="<ul>" + "".join(f'<li><a href="/tag/{t}">{t}</a></li>' for t in
            ["ferry", "library", "bridge", "bees", "school", "weather", "sport", "council"]) + "</ul>")
LOREM = [
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.",
    "Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat, this draft page was published by mistake before the story was written.",
    "Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur, and the editors will replace it with the finished article tomorrow.",
]

# English, but a list of short unpunctuated lines: no sentences for C4, no prose for FineWeb.
TIMETABLE = page("Bus times", [], extra="<table>" + "".join(
    f"<tr><td>Route {n} to {place} every {gap} minutes from {start}</td></tr>" for n, place, gap, start in [
        (1, "the harbour", 10, "six"), (2, "the hospital", 15, "half past six"), (3, "the university", 20, "seven"),
        (4, "the north bridge", 12, "six"), (5, "the old town", 30, "eight"), (6, "the airport", 60, "five"),
        (7, "the beach", 20, "nine"), (8, "the stadium", 15, "ten"), (9, "the market", 10, "seven"),
        (10, "the library", 20, "eight"), (11, "the ferry pier", 15, "six"), (12, "the school", 10, "seven")]) + "</table>")

DATE = "2026-11-20T08:00:00Z"
PAGES = [
    ("https://harbornews.example/2026/ferry-timetable", 200, "text/html; charset=utf-8", page("Winter ferry timetable adds an early crossing", FERRY)),
    ("https://harbornews.example/2026/library-reopens", 200, "text/html; charset=utf-8", page("Central library reopens after repairs", LIBRARY)),
    ("https://valleytimes.example/city/bridge-repairs", 200, "text/html; charset=utf-8", page("North bridge repairs begin", BRIDGE)),
    ("https://www.newsdigest.example/wire/north-bridge", 200, "text/html; charset=utf-8", page("North bridge repairs begin", BRIDGE_REPRINT)),
    ("https://valleytimes.example/science/bees", 200, "text/html; charset=utf-8", page("Bees come through the winter in good health", BEES)),
    ("https://harbornews.example/2026/school-garden", 200, "text/html; charset=utf-8", page("School garden harvests its first potatoes", GARDEN)),
    ("https://zeitung.example/lokales/wochenmarkt", 200, "text/html; charset=utf-8", page("Wochenmarkt zieht an den Hafen", MARKT, lang="de")),
    ("https://spinwin.example/bonus/free-spins", 200, "text/html; charset=utf-8", page("Free spins", SPAM)),
    ("https://harbornews.example/tags", 200, "text/html; charset=utf-8", TAGS),
    ("https://harbornews.example/bus-times", 200, "text/html; charset=utf-8", TIMETABLE),
    ("https://drafts.example/story/untitled", 200, "text/html; charset=utf-8", page("Untitled draft", LOREM)),
    ("https://harbornews.example/2025/missing", 404, "text/html; charset=utf-8", page("Page not found", ["Sorry, that page does not exist."])),
    ("https://harbornews.example/logo.png", 200, "image/png", None),
]


def main(path):
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        info = writer.create_warcinfo_record("pages.warc.gz", {"software": "millstone scripts/make-web-sample.py", "format": "WARC File Format 1.1"})
        info.rec_headers.replace_header("WARC-Date", DATE)
        info.rec_headers.replace_header("WARC-Record-ID", "<urn:uuid:00000000-0000-4000-8000-000000000000>")
        writer.write_record(info)
        for n, (url, status, mime, html) in enumerate(PAGES, start=1):
            payload = b"\x89PNG\r\n\x1a\n" + bytes(64) if html is None else html.encode("utf-8")
            request = writer.create_warc_record(url, "request", payload=io.BytesIO(f"GET {url} HTTP/1.1\r\n\r\n".encode()),
                                                warc_headers_dict={"WARC-Date": DATE, "WARC-Record-ID": f"<urn:uuid:00000000-0000-4000-8000-{2 * n:012d}>"})
            writer.write_record(request)
            reason = {200: "OK", 404: "Not Found"}[status]
            http = StatusAndHeaders(f"{status} {reason}", [("Content-Type", mime), ("Content-Length", str(len(payload)))], protocol="HTTP/1.1")
            response = writer.create_warc_record(url, "response", payload=io.BytesIO(payload), http_headers=http,
                                                 warc_headers_dict={"WARC-Date": DATE, "WARC-Record-ID": f"<urn:uuid:00000000-0000-4000-8000-{2 * n + 1:012d}>"})
            writer.write_record(response)


if __name__ == "__main__":
    main(sys.argv[1])
