//! News-style corpora with known duplicates, for the bundled sample and for dedup evaluation.
//!
//! Everything here is original text written for millstone. It reproduces what scraped news
//! looks like: one wire story republished by several sites, each with its own header, footer,
//! share bar and comment thread (commenters' names on lines of their own); a quotation shared by
//! different stories; exact mirror copies; unrelated stories.

/// A hand-written story: a title and its paragraphs.
#[derive(Debug, Clone, Copy)]
pub struct Story {
    /// Short name, used in file names and labels.
    pub slug: &'static str,
    /// Headline.
    pub title: &'static str,
    /// Body paragraphs.
    pub paragraphs: &'static [&'static str],
}

/// A quotation that several different stories carry (a hard case for paragraph dedup: shared
/// text across unrelated documents must not make them duplicates).
pub const SHARED_QUOTE: &str = "“No town should have to face this alone, and none will,” the minister said. “We will stand with every family until the work is done, however long it takes.”";

/// The stories of the sample corpus.
pub const STORIES: &[Story] = &[
    Story { slug: "harbour-budget", title: "Harbour council approves dredging budget after late-night vote", paragraphs: &[
        "The Port Calder harbour council approved a 14 million pound dredging budget on Tuesday night, ending a debate that had split the chamber for most of the autumn.",
        "Councillors voted nine to seven in favour after the harbour master warned that silt in the eastern channel now leaves fishing boats grounded for up to three hours on each low tide.",
        "Opponents argued that the contract, awarded to a firm from outside the region, would send most of the money away from the town. The mayor promised a public review of the terms before any work begins in the spring.",
        "Skippers who had gathered in the public gallery applauded the result. One said the fleet had lost a fifth of its landings this year because boats could not leave on time.",
    ]},
    Story { slug: "rail-strike", title: "Regional rail strike ends as drivers accept new pay offer", paragraphs: &[
        "Train drivers on the Northern Valley network voted on Friday to accept a revised pay offer, ending a strike that had halted most services for eleven days.",
        "The union said 78 percent of members backed the deal, which raises pay by 6.5 percent this year and guarantees rest periods between late and early shifts.",
        "Commuters faced packed replacement buses throughout the dispute, and several schools moved lessons online after teachers could not reach classrooms.",
        "The operator said a full timetable would return on Monday, although some rural lines may run a reduced service until crews are back on their usual rosters.",
    ]},
    Story { slug: "reservoir-drought", title: "Reservoirs fall to record low as water restrictions widen", paragraphs: &[
        "Reservoir levels across the southern uplands have fallen to 31 percent of capacity, the lowest figure since records began in 1976, the water authority said on Wednesday.",
        "A ban on garden hoses will extend to four more districts from next week, and farmers have been asked to draw irrigation water only at night.",
        SHARED_QUOTE,
        "Engineers are preparing to reopen an old pumping station on the river Lune to move water north, a step last taken during the dry summer of 1995.",
    ]},
    Story { slug: "battery-lab", title: "University team unveils sodium battery that charges in minutes", paragraphs: &[
        "Researchers at Halvorsen University have built a sodium-ion battery cell that reaches 80 percent charge in under twelve minutes without the lithium or cobalt used in most phone and car batteries.",
        "The team coated the cell's hard-carbon anode with a thin layer of a phosphate compound, which they say stops the slow build-up of crystals that usually ruins fast-charging cells.",
        "In laboratory tests the cells kept 90 percent of their capacity after 3,000 charging cycles. The results were published on Thursday in a peer-reviewed journal.",
        "The researchers cautioned that their cells store about a quarter less energy than lithium cells of the same weight, making them better suited to home storage and city buses than to long-range cars.",
    ]},
    Story { slug: "hill-fires", title: "Hundreds evacuated as wildfire spreads through hill villages", paragraphs: &[
        "More than 600 residents of three hill villages were evacuated overnight as a wildfire driven by strong easterly winds spread across dry scrubland above the valley.",
        "Fire crews from four counties worked through the night to protect homes on the edge of Brackenridge, where flames came within 200 metres of the primary school.",
        SHARED_QUOTE,
        "Officials said no injuries had been reported, but two barns and a holiday cottage were destroyed. An emergency shelter has opened in the sports hall at Lower Mill.",
    ]},
    Story { slug: "rates-hold", title: "Central bank holds interest rates for third meeting in a row", paragraphs: &[
        "The central bank kept its main interest rate at 4.25 percent on Thursday, saying inflation was easing more slowly than it had expected in the summer.",
        "Two of the nine members of the rate committee voted for a cut of a quarter point, citing weak retail sales and a rise in business insolvencies.",
        "The governor told reporters that the bank would need to see several more months of falling service-sector prices before it could lower borrowing costs.",
    ]},
    Story { slug: "museum-return", title: "City museum returns carved panels to their island of origin", paragraphs: &[
        "The Ashgrove City Museum has returned six carved wooden panels to the island community from which they were taken by a naval expedition in 1887.",
        "The panels, which once formed the doorway of a meeting house, had been kept in storage for most of the past century and were rarely shown to the public.",
        "Elders who travelled to collect them held a short ceremony in the museum's courtyard before the panels were packed for the voyage home.",
    ]},
    Story { slug: "stadium-plan", title: "Football club reveals plan for new riverside stadium", paragraphs: &[
        "Riverside Athletic has unveiled plans for a 28,000-seat stadium on the site of a former gasworks, which the club says would open in time for the 2029 season.",
        "The design includes a rail halt, a public park along the water and a roof that collects rainwater for the pitch. Local residents will be consulted over the winter.",
        "Some supporters' groups have questioned how the club will pay for the scheme, which is expected to cost at least 190 million pounds.",
    ]},
    Story { slug: "storm-power", title: "Storm leaves 40,000 homes without power along the coast", paragraphs: &[
        "Gusts of up to 90 miles an hour brought down power lines across the western coast overnight, leaving about 40,000 homes without electricity on Sunday morning.",
        "The network operator said engineers had reconnected half of the affected properties by midday, but some remote farms might wait until Tuesday.",
        SHARED_QUOTE,
        "Ferry crossings to the outer islands were cancelled for a second day, and the coastguard warned people to stay away from sea walls.",
    ]},
    Story { slug: "poultry-vaccine", title: "Farmers join trial of bird flu vaccine for laying hens", paragraphs: &[
        "Forty poultry farms will take part in a government trial of a vaccine against avian influenza, the agriculture department announced on Monday.",
        "Vaccinated flocks will be tested every fortnight to check that the vaccine does not hide infections, a concern that has held back its use in other countries.",
        "The trial follows a winter in which more than two million birds were culled after outbreaks on farms in the east of the country.",
    ]},
];

/// A publishing site: what it wraps around a story.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    /// Folder name of the site in the corpus.
    pub name: &'static str,
    /// Lines above the story (after the title).
    pub header: &'static [&'static str],
    /// Lines after the story.
    pub footer: &'static [&'static str],
    /// The comment-widget line that opens the comment section, if the site has one.
    pub comment_marker: Option<&'static str>,
}

/// The sites of the sample corpus.
pub const SITES: &[Site] = &[
    Site { name: "valley-courier", header: &["Share this:", "Facebook | Twitter | Email"], footer: &["Filed under: local news, latest", "Related Posts"], comment_marker: Some("newest oldest most voted\nNotify of") },
    Site { name: "northgate-post", header: &["By Marta Olsen", "Published on 12 March 2024, 09:14"], footer: &["If you value independent local reporting, please consider supporting us with a small monthly donation.", "© 2024 Northgate Post Ltd. All rights reserved."], comment_marker: Some("Leave a Comment") },
    Site { name: "the-ledger", header: &["Advertisement"], footer: &["Read more", "Tags: region, politics, economy", "Subscribe to our newsletter for the morning briefing."], comment_marker: Some("3 Comments") },
    Site { name: "wire-mirror", header: &[], footer: &["This story was originally published by a partner news service."], comment_marker: None },
    Site { name: "coastline-news", header: &["Skip to content", "Menu"], footer: &["We use cookies to improve your experience on this site. Accept all cookies", "Back to top"], comment_marker: Some("Join the discussion") },
];

/// Commenters and what they say; comment threads are drawn from these.
pub const COMMENTS: &[(&str, &str)] = &[
    ("Greta_W", "I have lived here for forty years and I have never seen the council move this fast on anything. Something does not add up."),
    ("Tom Henley", "Good news at last. Now let us see whether they actually deliver on any of it."),
    ("observer77", "The article leaves out who owns the contractor. Follow the money, as always."),
    ("Priya N.", "My brother works on the boats and says the situation is much worse than the officials admit."),
    ("Dave from the Hill", "Same story every year. Nobody plans ahead and then everyone acts surprised."),
    ("Lina Sørensen", "Thanks for covering this properly. The national papers ignored it completely."),
    ("mick_b", "Reply to Dave: that is a bit unfair, the volunteers have been working around the clock."),
    ("Anon", "Does anyone know whether the school will be open on Monday?"),
];

/// One document of a generated corpus, with its ground-truth cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabeledDoc {
    /// Relative path (`site/slug.txt`) or id.
    pub id: String,
    /// Full text as scraped (title, header, story, footer, comments).
    pub text: String,
    /// Ground truth: documents with the same cluster carry the same story.
    pub cluster: String,
    /// The publishing site.
    pub site: String,
}

/// A small deterministic generator (SplitMix64), so corpora are identical on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// How a republisher edits a wire story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Edits {
    /// Put a dateline in front of the first paragraph.
    pub dateline: bool,
    /// Leave out the last paragraph.
    pub drop_last: bool,
    /// Use a different headline.
    pub retitle: bool,
}

/// Renders a story as a site would publish it, with `comments` comments.
pub fn render(story: &Story, site: &Site, comments: usize, rng: &mut Rng) -> String {
    render_edited(story, site, comments, Edits::default(), rng)
}

/// Renders a story with a republisher's edits.
pub fn render_edited(story: &Story, site: &Site, comments: usize, edits: Edits, rng: &mut Rng) -> String {
    let mut out = String::new();
    if edits.retitle {
        out.push_str("UPDATED: ");
    }
    out.push_str(story.title);
    out.push_str("\n\n");
    for line in site.header {
        out.push_str(line);
        out.push('\n');
    }
    if !site.header.is_empty() {
        out.push('\n');
    }
    let keep = if edits.drop_last && story.paragraphs.len() > 2 {
        story.paragraphs.len() - 1
    } else {
        story.paragraphs.len()
    };
    for (i, p) in story.paragraphs[..keep].iter().enumerate() {
        if i == 0 && edits.dateline {
            out.push_str("(Wire service) - ");
        }
        out.push_str(p);
        out.push_str("\n\n");
    }
    for line in site.footer {
        out.push_str(line);
        out.push_str("\n\n");
    }
    if let (Some(marker), true) = (site.comment_marker, comments > 0) {
        out.push_str(marker);
        out.push_str("\n\n");
        let start = rng.below(COMMENTS.len());
        for k in 0..comments {
            let (name, text) = COMMENTS[(start + k * 3) % COMMENTS.len()];
            out.push_str(name);
            out.push_str("\n\n");
            out.push_str(text);
            out.push_str("\n\n");
        }
    }
    out
}

/// The bundled sample corpus (`examples/news/`): 10 stories, the first five republished by
/// three or four sites with different wrappers and comment threads, exact mirror copies, and
/// unrelated single stories. Deterministic.
pub fn sample_corpus() -> Vec<LabeledDoc> {
    let mut rng = Rng::new(2024);
    let mut docs = Vec::new();
    for (s, story) in STORIES.iter().enumerate() {
        let republished = s < 5;
        let site_count = if republished { 3 + s % 2 + usize::from(s < 2) } else { 1 };
        for k in 0..site_count {
            let site = &SITES[(s + k * 2) % SITES.len()];
            let comments = rng.below(6) + usize::from(k % 2 == 0) * 2;
            // Later republications are edited: a dateline, a cut last paragraph, a new headline.
            let edits = Edits { dateline: k == 1, drop_last: k == 2, retitle: k == 3 };
            docs.push(LabeledDoc {
                id: format!("{}/{}", site.name, story.slug),
                text: render_edited(story, site, comments, edits, &mut rng),
                cluster: story.slug.to_string(),
                site: site.name.to_string(),
            });
        }
    }
    // Exact mirror copies: an aggregator copies three pages byte for byte.
    for source in [0usize, 5, 9] {
        let original = docs[source].clone();
        docs.push(LabeledDoc {
            id: format!("aggregator/{}", original.id.replace('/', "--")),
            site: "aggregator".into(),
            ..original
        });
    }
    // Short briefs that are not copies of anything.
    const BRIEFS: &[(&str, &str)] = &[
        ("brief-library", "Library hours extended\n\nThe central library will stay open until nine in the evening on weekdays from next month, after a survey found that most students study after work. The council said the cost would be met from the existing budget."),
        ("brief-bridge", "Footbridge closed for repairs\n\nThe Millbrook footbridge will close for six weeks from Monday while engineers replace corroded bolts. Pedestrians are advised to use the road bridge, which has a new signal-controlled crossing."),
        ("brief-market", "Farmers market moves indoors\n\nThe Saturday farmers market will move into the old corn exchange for the winter months. Stallholders said the move would protect fresh produce from frost and allow longer opening hours."),
        ("brief-orchestra", "Youth orchestra wins national prize\n\nThe county youth orchestra has won first prize at the national festival with a programme of Sibelius and a new piece by a local composer. The players, aged 14 to 19, rehearse every Sunday."),
        ("brief-cycle", "New cycle lanes open on the ring road\n\nSeven kilometres of protected cycle lanes opened on the ring road this week. Cycling groups welcomed the lanes but asked for better lighting at the junction with the retail park."),
        ("brief-hospital", "Hospital opens new children's ward\n\nA new children's ward with 24 beds opened at the General Hospital on Friday. Parents can now stay overnight in rooms beside their children, a change families had asked for over many years."),
        ("brief-ferry", "Ferry timetable changes for winter\n\nThe island ferry will run four crossings a day instead of six from November. The operator said the change reflects lower passenger numbers and allows maintenance on the older vessel."),
        ("brief-archive", "Archive puts wartime letters online\n\nThe county archive has published more than 3,000 letters written by local soldiers and their families between 1914 and 1918. Volunteers spent two years transcribing the handwriting."),
        ("brief-school", "School meals to include more local produce\n\nSchools in the district will buy at least a third of their vegetables from farms within fifty miles under a new contract. Head teachers said pupils had helped choose the new menus."),
        ("brief-zoo", "Zoo welcomes twin red panda cubs\n\nTwin red panda cubs born in the summer have made their first public appearance at the city zoo. Keepers said the cubs are healthy and will stay close to their mother for several more months."),
        ("brief-marathon", "Record entry for city marathon\n\nA record 18,000 runners have entered next spring's city marathon. Organisers will add a second start wave and extra water stations along the river section of the route."),
        ("brief-recycling", "Glass recycling collections to resume\n\nKerbside glass collections will resume next month after the council signed a new contract with a regional recycler. Residents who kept bottles at home during the pause can put them out on their usual bin day."),
        ("brief-theatre", "Theatre reopens after roof repairs\n\nThe Grand Theatre reopened on Thursday after a year of repairs to its Victorian roof. The first production is a new staging of a comedy by a local playwright, and tickets for the opening week sold out."),
    ];
    for (slug, text) in BRIEFS {
        docs.push(LabeledDoc {
            id: format!("briefs/{slug}"),
            text: format!("{text}\n"),
            cluster: (*slug).to_string(),
            site: "briefs".into(),
        });
    }
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_corpus_has_the_planted_phenomena() {
        let docs = sample_corpus();
        assert!(docs.len() >= 40, "{}", docs.len());
        let ids: std::collections::HashSet<_> = docs.iter().map(|d| &d.id).collect();
        assert_eq!(ids.len(), docs.len(), "ids are unique");
        let texts: Vec<_> = docs.iter().map(|d| &d.text).collect();
        let exact = texts.iter().filter(|t| texts.iter().filter(|u| u == t).count() > 1).count();
        assert_eq!(exact, 6, "three exact pairs");
        assert!(
            docs.iter()
                .filter(|d| d.text.contains(SHARED_QUOTE))
                .map(|d| &d.cluster)
                .collect::<std::collections::HashSet<_>>()
                .len()
                >= 3
        );
        assert_eq!(sample_corpus(), docs, "deterministic");
    }
}

/// Rates of the phenomena [`synthetic_corpus`] plants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyntheticOptions {
    /// Distinct stories.
    pub stories: usize,
    /// Stories per topic (stories of one topic share vocabulary and sometimes a quotation).
    pub stories_per_topic: usize,
    /// Most republications of one story (0..=max, uniformly).
    pub max_copies: usize,
    /// Probability that a republication is a byte-exact copy.
    pub exact_copy_rate: f64,
    /// Probability that a republication swaps two paragraphs.
    pub reorder_rate: f64,
    /// Probability that a republication drops its last paragraph.
    pub truncate_rate: f64,
    /// Fraction of words replaced, inserted or deleted in a republication.
    pub word_edit_rate: f64,
    /// Probability that a republication carries a comment thread.
    pub comment_rate: f64,
    /// Probability that a comment thread has no marker line ("Leave a Comment" ...), so only
    /// containment-aware matching can see through it.
    pub unmarked_comment_rate: f64,
}

impl Default for SyntheticOptions {
    fn default() -> Self {
        SyntheticOptions {
            stories: 300,
            stories_per_topic: 4,
            max_copies: 4,
            exact_copy_rate: 0.15,
            reorder_rate: 0.2,
            truncate_rate: 0.15,
            word_edit_rate: 0.03,
            comment_rate: 0.6,
            unmarked_comment_rate: 0.3,
        }
    }
}

const FUNCTION_WORDS: &[&str] = &[
    "the", "of", "and", "to", "a", "in", "that", "is", "was", "for", "on", "it", "with", "as", "his", "her",
    "at", "by", "from", "they", "we", "said", "have", "has", "had", "not", "but", "be", "this", "which",
    "their", "were", "an", "after", "more", "will", "would", "about", "who", "been", "its", "than", "other",
    "when", "into", "over",
];
const CONTENT_WORDS: &[&str] = &[
    "council",
    "government",
    "minister",
    "police",
    "report",
    "city",
    "water",
    "school",
    "hospital",
    "price",
    "company",
    "workers",
    "union",
    "court",
    "judge",
    "election",
    "vote",
    "party",
    "budget",
    "tax",
    "energy",
    "power",
    "storm",
    "river",
    "farmers",
    "market",
    "bank",
    "rates",
    "museum",
    "team",
    "season",
    "players",
    "stadium",
    "train",
    "road",
    "bridge",
    "fire",
    "crews",
    "residents",
    "village",
    "coast",
    "island",
    "ferry",
    "scientists",
    "study",
    "patients",
    "doctors",
    "virus",
    "vaccine",
    "trial",
    "officials",
    "statement",
    "spokesman",
    "contract",
    "plan",
    "project",
    "funding",
    "million",
    "percent",
    "week",
    "year",
    "month",
    "morning",
    "night",
    "local",
    "national",
    "regional",
    "public",
    "private",
    "new",
    "former",
    "senior",
    "early",
    "late",
    "second",
    "third",
    "announced",
    "warned",
    "promised",
    "agreed",
    "rejected",
    "approved",
    "opened",
    "closed",
    "reported",
    "confirmed",
    "denied",
    "expected",
    "planned",
    "delayed",
    "rose",
    "fell",
    "increased",
    "reduced",
    "protest",
    "strike",
    "talks",
    "deal",
    "crisis",
    "inquiry",
    "investigation",
    "evidence",
    "families",
    "children",
    "teachers",
    "students",
    "drivers",
    "passengers",
    "shops",
    "homes",
    "streets",
    "district",
    "county",
];

/// A sentence of news-like words: Zipf-weighted function words mixed with content words, a
/// topic's own words more likely.
fn sentence(rng: &mut Rng, topic: &[&'static str]) -> String {
    let len = 12 + rng.below(14);
    let mut words: Vec<String> = Vec::with_capacity(len);
    for _ in 0..len {
        let roll = rng.below(100);
        let word = if roll < 45 {
            // Zipf-like: low ranks far more often.
            let r =
                (rng.below(FUNCTION_WORDS.len()) * rng.below(FUNCTION_WORDS.len())) / FUNCTION_WORDS.len();
            FUNCTION_WORDS[r].to_string()
        } else if roll < 70 {
            topic[rng.below(topic.len())].to_string()
        } else if roll < 95 {
            CONTENT_WORDS[rng.below(CONTENT_WORDS.len())].to_string()
        } else {
            format!("{}", rng.below(2030))
        };
        words.push(word);
    }
    let mut s = words.join(" ");
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s.push('.');
    s
}

fn edit_words(text: &str, rate: f64, rng: &mut Rng, topic: &[&'static str]) -> String {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(' ') {
        if rng.chance(rate) {
            match rng.below(3) {
                0 => out.push(topic[rng.below(topic.len())].to_string()),
                1 => {}
                _ => {
                    out.push(word.to_string());
                    out.push(CONTENT_WORDS[rng.below(CONTENT_WORDS.len())].to_string());
                }
            }
        } else {
            out.push(word.to_string());
        }
    }
    out.join(" ")
}

/// A labelled news-style corpus with planted duplicates at controlled rates: every story appears
/// once on its original site and up to `max_copies` more times, republished with other
/// headers/footers, comment threads (marked or not), paragraph swaps, truncation and word edits,
/// or as exact copies. Stories of one topic share vocabulary and sometimes a quotation (hard
/// negatives). Documents are shuffled deterministically. `cluster` is the story.
pub fn synthetic_corpus(seed: u64, options: &SyntheticOptions) -> Vec<LabeledDoc> {
    let mut rng = Rng::new(seed);
    let mut docs = Vec::new();
    let topics: Vec<Vec<&'static str>> = (0..options.stories.div_ceil(options.stories_per_topic.max(1)))
        .map(|_| (0..12).map(|_| CONTENT_WORDS[rng.below(CONTENT_WORDS.len())]).collect())
        .collect();
    let quotes: Vec<String> = topics.iter().map(|t| format!("“{}”", sentence(&mut rng, t))).collect();
    for story in 0..options.stories {
        let topic_index = story / options.stories_per_topic.max(1);
        let topic = &topics[topic_index];
        let paragraphs: Vec<String> = (0..4 + rng.below(5))
            .map(|_| (0..2 + rng.below(3)).map(|_| sentence(&mut rng, topic)).collect::<Vec<_>>().join(" "))
            .collect();
        let mut paragraphs = paragraphs;
        if rng.chance(0.5) {
            let at = rng.below(paragraphs.len());
            paragraphs.insert(at, quotes[topic_index].clone());
        }
        let title = sentence(&mut rng, topic);
        let copies = rng.below(options.max_copies + 1);
        let original_site = rng.below(SITES.len());
        let mut original_text = String::new();
        for copy in 0..=copies {
            let site = &SITES[(original_site + copy) % SITES.len()];
            let text = if copy > 0 && rng.chance(options.exact_copy_rate) {
                original_text.clone()
            } else {
                let mut body = paragraphs.clone();
                if copy > 0 {
                    if rng.chance(options.reorder_rate) && body.len() > 2 {
                        let a = rng.below(body.len());
                        let b = rng.below(body.len());
                        body.swap(a, b);
                    }
                    if rng.chance(options.truncate_rate) && body.len() > 3 {
                        body.pop();
                    }
                    body =
                        body.iter().map(|p| edit_words(p, options.word_edit_rate, &mut rng, topic)).collect();
                }
                let mut text = format!("{title}\n\n");
                for line in site.header {
                    text.push_str(line);
                    text.push('\n');
                }
                text.push('\n');
                for p in &body {
                    text.push_str(p);
                    text.push_str("\n\n");
                }
                for line in site.footer {
                    text.push_str(line);
                    text.push_str("\n\n");
                }
                if rng.chance(options.comment_rate) {
                    if !rng.chance(options.unmarked_comment_rate) {
                        text.push_str(site.comment_marker.unwrap_or("Leave a Comment"));
                        text.push_str("\n\n");
                    }
                    for _ in 0..1 + rng.below(6) {
                        let (name, _) = COMMENTS[rng.below(COMMENTS.len())];
                        text.push_str(name);
                        text.push_str("\n\n");
                        let comment: Vec<String> =
                            (0..1 + rng.below(4)).map(|_| sentence(&mut rng, topic)).collect();
                        text.push_str(&comment.join(" "));
                        text.push_str("\n\n");
                    }
                }
                text
            };
            if copy == 0 {
                original_text = text.clone();
            }
            docs.push(LabeledDoc {
                id: format!("s{story:05}-c{copy}"),
                text,
                cluster: format!("story-{story:05}"),
                site: site.name.to_string(),
            });
        }
    }
    for i in (1..docs.len()).rev() {
        let j = rng.below(i + 1);
        docs.swap(i, j);
    }
    docs
}

#[cfg(test)]
mod synthetic_tests {
    use super::*;

    #[test]
    fn synthetic_corpus_is_deterministic_and_labelled() {
        let options = SyntheticOptions { stories: 20, ..Default::default() };
        let a = synthetic_corpus(1, &options);
        assert_eq!(a, synthetic_corpus(1, &options));
        assert_ne!(a, synthetic_corpus(2, &options));
        let clusters: std::collections::HashSet<_> = a.iter().map(|d| &d.cluster).collect();
        assert_eq!(clusters.len(), 20);
        assert!(a.len() > 20);
    }
}
