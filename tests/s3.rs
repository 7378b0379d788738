//! Pipelines that read from and write to a real S3-compatible server on loopback: moto in
//! server mode (PyPI `moto[server]`; `.ci/python.sh` installs it and exports
//! `MILLSTONE_MOTO_SERVER`). Each test starts its own server on 127.0.0.1 and checks that what
//! a run writes to S3 is byte for byte what the same run writes to local disk: whole and
//! sharded, resumed, every source kind, through a burst of 503s; and that an upload whose parts
//! keep failing, or whose server dies, fails the run with the key named and leaves no parts and
//! no staging files behind. Without moto the tests skip with a message.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::stderr;

const SECRET: &str = "millstone-test-secret-key";
const SIGNATURE: &str = "AWS4-HMAC-SHA256 Credential=millstone-test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00";

/// A moto server on a free loopback port, killed on drop.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start() -> Option<Moto> {
        let Some(binary) = std::env::var_os("MILLSTONE_MOTO_SERVER") else {
            eprintln!(
                "skipped: MILLSTONE_MOTO_SERVER is not set (pip install 'moto[server]' in a venv and point it at moto_server; .ci/run does)"
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", Path::new(&binary).display()));
        let moto = Moto { child, port };
        let started = Instant::now();
        while http(port, "GET", "/", "", b"").map(|(status, _)| status) != Some(200) {
            assert!(started.elapsed() < Duration::from_secs(60), "moto did not answer on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn create_bucket(&self, bucket: &str) {
        assert_eq!(http(self.port, "PUT", &format!("/{bucket}"), "", b"").unwrap().0, 200);
    }

    fn put(&self, key: &str, body: &[u8]) {
        assert_eq!(http(self.port, "PUT", &format!("/{key}"), "", body).unwrap().0, 200, "PUT {key}");
    }

    /// Puts an object anyone may read (for `https://` inputs, which are unsigned).
    fn put_public(&self, key: &str, body: &[u8]) {
        let (status, _) =
            http(self.port, "PUT", &format!("/{key}"), "x-amz-acl: public-read\r\n", body).unwrap();
        assert_eq!(status, 200, "PUT {key}");
    }

    /// The status of an unsigned GET: moto lets anonymous requests read only public objects.
    fn anonymous_get_status(&self, key: &str) -> u16 {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(stream, "GET /{key} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n", self.port)
            .unwrap();
        let head = read_head(&mut BufReader::new(stream)).unwrap();
        head.split(' ').nth(1).unwrap().parse().unwrap()
    }

    /// The object's bytes, or `None` when it does not exist.
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        match http(self.port, "GET", &format!("/{key}"), "", b"").unwrap() {
            (200, body) => Some(body),
            (404, _) => None,
            (status, body) => panic!("GET {key}: {status} {}", String::from_utf8_lossy(&body)),
        }
    }

    /// The multipart uploads the bucket holds unfinished (ListMultipartUploads).
    fn unfinished_uploads(&self, bucket: &str) -> usize {
        let (status, body) = http(self.port, "GET", &format!("/{bucket}?uploads"), "", b"").unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        String::from_utf8_lossy(&body).matches("<UploadId>").count()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with a made-up signature (moto does not check signatures, but treats
/// unsigned requests as anonymous): status and body. `headers` are extra `Name: value\r\n` lines.
fn http(port: u16, method: &str, target: &str, headers: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {SIGNATURE}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .ok()?;
    stream.write_all(body).ok()?;
    let mut reader = BufReader::new(stream);
    let head = read_head(&mut reader)?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let mut out = Vec::new();
    if header(&head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        copy_chunked(&mut reader, &mut out)?;
        let mut decoded = Vec::new();
        let mut rest = &out[..];
        while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..end]).ok()?.trim(), 16).ok()?;
            if size == 0 {
                break;
            }
            decoded.extend_from_slice(&rest[end + 2..end + 2 + size]);
            rest = &rest[end + 2 + size + 2..];
        }
        out = decoded;
    } else if let Some(length) = header(&head, "content-length") {
        out.resize(length.parse().ok()?, 0);
        reader.read_exact(&mut out).ok()?;
    } else {
        reader.read_to_end(&mut out).ok()?;
    }
    Some((status, out))
}

/// The request or status line and headers, through the blank line.
fn read_head(reader: &mut impl BufRead) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            return Some(head);
        }
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Copies a chunked body as it is on the wire, through its last chunk and trailer.
fn copy_chunked(reader: &mut impl BufRead, out: &mut Vec<u8>) -> Option<()> {
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).ok()?;
        out.extend_from_slice(size_line.as_bytes());
        let size = usize::from_str_radix(size_line.trim().split(';').next()?, 16).ok()?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        out.extend_from_slice(&chunk);
        if size == 0 {
            // The trailer's remaining lines end with a blank one; `chunk` held the first CRLF.
            return Some(());
        }
    }
}

/// What the fault-injecting proxy does with one request.
enum Fault {
    Forward,
    /// Answer `503 Slow Down`, as S3 does when throttling.
    SlowDown,
}

/// A loopback HTTP proxy in front of moto that decides per request (numbered from 0, with its
/// request line) whether to forward it or answer 503. An upstream that cannot be reached drops
/// the client's connection, as a dead server would.
struct Proxy {
    port: u16,
    slowed: Arc<AtomicUsize>,
}

type Rule = dyn Fn(usize, &str) -> Fault + Send + Sync;

impl Proxy {
    fn start(upstream: u16, rule: Arc<Rule>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let slowed = Arc::new(AtomicUsize::new(0));
        let counter = Arc::new(AtomicUsize::new(0));
        let slowed_by_threads = slowed.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (rule, counter, slowed) = (rule.clone(), counter.clone(), slowed_by_threads.clone());
                std::thread::spawn(move || serve(client, upstream, &*rule, &counter, &slowed));
            }
        });
        Proxy { port, slowed }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn serve(client: TcpStream, upstream: u16, rule: &Rule, counter: &AtomicUsize, slowed: &AtomicUsize) {
    let Ok(mut writer) = client.try_clone() else { return };
    let mut reader = BufReader::new(client);
    while let Some(head) = read_head(&mut reader) {
        let mut body = Vec::new();
        if header(&head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            if copy_chunked(&mut reader, &mut body).is_none() {
                return;
            }
        } else if let Some(length) = header(&head, "content-length").and_then(|l| l.parse().ok()) {
            body.resize(length, 0);
            if reader.read_exact(&mut body).is_err() {
                return;
            }
        }
        let request_line = head.lines().next().unwrap_or_default().to_string();
        match rule(counter.fetch_add(1, Ordering::SeqCst), &request_line) {
            Fault::SlowDown => {
                slowed.fetch_add(1, Ordering::SeqCst);
                let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
                let reply = format!(
                    "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{xml}",
                    xml.len()
                );
                if writer.write_all(reply.as_bytes()).is_err() {
                    return;
                }
            }
            Fault::Forward => {
                let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else { return };
                let rewritten: String = head
                    .lines()
                    .filter(|line| !line.to_ascii_lowercase().starts_with("connection:") && !line.is_empty())
                    .map(|line| format!("{line}\r\n"))
                    .collect::<String>()
                    + "Connection: close\r\n\r\n";
                let mut response = Vec::new();
                let sent = up.write_all(rewritten.as_bytes()).and_then(|_| up.write_all(&body));
                if sent.and_then(|_| up.read_to_end(&mut response)).is_err() || response.is_empty() {
                    return;
                }
                if writer.write_all(&response).is_err() {
                    return;
                }
                let response_head =
                    String::from_utf8_lossy(&response[..response.len().min(4096)]).into_owned();
                let framed = header(&response_head, "content-length").is_some()
                    || header(&response_head, "transfer-encoding").is_some();
                let closes =
                    header(&response_head, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
                if !framed || closes {
                    return;
                }
            }
        }
    }
}

/// Documents with exact duplicates, some without an id (named `file:line` then): `(plain, gz)`.
fn corpus() -> (Vec<u8>, Vec<u8>) {
    let mut plain = String::new();
    for i in 0..36_000 {
        let words =
            format!("report {} on the harbour  budget {} ", i % 28_000, "and more words ".repeat(i % 40));
        if i % 7 == 0 {
            plain.push_str(&format!("{{\"text\":\"{words}\"}}\n"));
        } else {
            plain.push_str(&format!("{{\"id\":\"a{i}\",\"text\":\"{words}\"}}\n"));
        }
    }
    let mut small = String::new();
    for i in 0..3_000 {
        small.push_str(&format!(
            "{{\"id\":\"b{i}\",\"text\":\"report {} on the harbour  budget \"}}\n",
            i * 3
        ));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(small.as_bytes()).unwrap();
    (plain.into_bytes(), gz.finish().unwrap())
}

/// Puts the corpus under `in/` locally (in `dir`) and in the bucket.
fn stage_corpus(moto: &Moto, bucket: &str, dir: &Path) -> PathBuf {
    let (plain, gz) = corpus();
    assert!(plain.len() > (8 << 20), "the plain file must span several ranged GETs");
    let local = dir.join("in");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("a.jsonl"), &plain).unwrap();
    std::fs::write(local.join("b.jsonl.gz"), &gz).unwrap();
    std::fs::write(local.join("c-empty.jsonl"), b"").unwrap();
    moto.create_bucket(bucket);
    moto.put(&format!("{bucket}/in/a.jsonl"), &plain);
    moto.put(&format!("{bucket}/in/b.jsonl.gz"), &gz);
    moto.put(&format!("{bucket}/in/c-empty.jsonl"), b"");
    local
}

/// A pipeline file in `dir`: jsonl from `input` through whitespace cleanup and exact dedup to
/// `<out>/part-{shard}.jsonl`, with `storage` as the pipeline's `storage:` mapping.
fn pipeline(dir: &Path, name: &str, input: &str, out: &str, storage: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "version: 1\nruntime: {{ out_dir: {out}, batch_docs: 256 }}\nstorage: {storage}\nstages:\n  - type: ingest.jsonl\n    paths: [\"{input}\"]\n    shard_bytes: 4MiB\n  - type: clean.normalize_whitespace\n  - type: dedup.exact\n  - type: export.jsonl\n    path: {out}/part-{{shard}}.jsonl\n"
        ),
    )
    .unwrap();
    path
}

/// millstone with nothing of AWS in its environment, staging under `staging`.
fn millstone(args: &[&str], staging: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_millstone"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            command.env_remove(&key);
        }
    }
    command.args(args).env("MILLSTONE_STAGING_DIR", staging).current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// Runs millstone with test credentials in the environment.
fn run(args: &[&str], staging: &Path) -> Output {
    millstone(args, staging)
        .env("AWS_ACCESS_KEY_ID", "millstone-test")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("running millstone")
}

fn assert_no_staging_left(staging: &Path) {
    let left: Vec<_> = std::fs::read_dir(staging).into_iter().flatten().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "staging files left behind: {left:?}");
}

/// A moto server with the corpus in `bucket` (and on disk), a folder for the test and a
/// staging folder in it.
struct Setup {
    moto: Moto,
    dir: tempfile::TempDir,
    staging: PathBuf,
    local_in: PathBuf,
}

fn setup(bucket: &str) -> Option<Setup> {
    let moto = Moto::start()?;
    let dir = tempfile::tempdir().unwrap();
    let staging = dir.path().join("staging");
    let local_in = stage_corpus(&moto, bucket, dir.path());
    Some(Setup { moto, dir, staging, local_in })
}

fn succeeded(out: &Output) -> String {
    let text = stderr(out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains(SECRET), "the secret key was printed: {text}");
    text
}

fn storage_at(endpoint: &str) -> String {
    format!("{{ endpoint: \"{endpoint}\", path_style: true }}")
}

#[test]
fn a_pipeline_from_s3_to_s3_writes_what_the_local_run_writes_whole_sharded_and_resumed() {
    let Some(Setup { moto, dir, staging, local_in }) = setup("corpus") else { return };
    let local_out = dir.path().join("out");
    let storage = storage_at(&moto.endpoint());
    let local = pipeline(
        dir.path(),
        "local",
        &format!("{}/*.jsonl*", local_in.display()),
        &local_out.display().to_string(),
        "{}",
    );
    let remote = pipeline(dir.path(), "remote", "s3://corpus/in/*.jsonl*", "s3://corpus/out", &storage);

    // Whole: one output above the multipart threshold.
    succeeded(&run(&["run", local.to_str().unwrap(), "--quiet"], &staging));
    let report = dir.path().join("run.json");
    succeeded(&run(
        &["run", remote.to_str().unwrap(), "--quiet", "--report", report.to_str().unwrap()],
        &staging,
    ));
    let expected = std::fs::read(local_out.join("part-00000.jsonl")).unwrap();
    assert!(expected.len() > (8 << 20), "the output must go up in several parts ({} bytes)", expected.len());
    assert_eq!(moto.get("corpus/out/part-00000.jsonl").as_deref(), Some(&expected[..]));
    let report_text = std::fs::read_to_string(&report).unwrap();
    assert!(
        !report_text.contains(SECRET) && !report_text.contains("millstone-test\""),
        "credentials in run.json"
    );
    assert!(report_text.contains("s3://corpus/in/a.jsonl"), "the report names the objects read");
    assert_eq!(moto.unfinished_uploads("corpus"), 0);

    // Sharded: the plain object is cut into the same line-aligned byte ranges as the local file.
    let local = pipeline(
        dir.path(),
        "local2",
        &format!("{}/*.jsonl*", local_in.display()),
        &dir.path().join("out2").display().to_string(),
        "{}",
    );
    let remote = pipeline(dir.path(), "remote2", "s3://corpus/in/*.jsonl*", "s3://corpus/out2", &storage);
    for shard in ["0/2", "1/2"] {
        succeeded(&run(&["run", local.to_str().unwrap(), "--quiet", "--shard", shard], &staging));
        succeeded(&run(&["run", remote.to_str().unwrap(), "--quiet", "--shard", shard], &staging));
    }
    for part in ["part-00000.jsonl", "part-00001.jsonl"] {
        let expected = std::fs::read(dir.path().join("out2").join(part)).unwrap();
        assert_eq!(moto.get(&format!("corpus/out2/{part}")).as_deref(), Some(&expected[..]), "{part}");
    }
    assert!(
        moto.get("corpus/out2/_markers/shard-00000-of-00002.json").is_some(),
        "markers live beside the outputs"
    );

    // Resumed: finished shards are verified against the store and skipped; a changed input
    // object makes the shard run again, to the same output.
    for shard in ["0/2", "1/2"] {
        let text = succeeded(&run(
            &["run", remote.to_str().unwrap(), "--quiet", "--resume", "--shard", shard],
            &staging,
        ));
        assert!(text.contains("already complete"), "{text}");
    }
    // The same documents, compressed harder: other bytes, the same output.
    let compressed = std::fs::read(local_in.join("b.jsonl.gz")).unwrap();
    let mut plain = Vec::new();
    flate2::read::MultiGzDecoder::new(&compressed[..]).read_to_end(&mut plain).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&plain).unwrap();
    moto.put("corpus/in/b.jsonl.gz", &gz.finish().unwrap());
    let mut redone = 0;
    for shard in ["0/2", "1/2"] {
        let text = succeeded(&run(
            &["run", remote.to_str().unwrap(), "--quiet", "--resume", "--shard", shard],
            &staging,
        ));
        redone += usize::from(text.contains("redoing it: input s3://corpus/in/b.jsonl.gz changed"));
    }
    assert_eq!(redone, 1, "the shard that reads the changed object, and only it, is redone");
    for part in ["part-00000.jsonl", "part-00001.jsonl"] {
        let expected = std::fs::read(dir.path().join("out2").join(part)).unwrap();
        assert_eq!(moto.get(&format!("corpus/out2/{part}")).as_deref(), Some(&expected[..]), "{part}");
    }

    // An existing output is not replaced without --overwrite.
    let out = run(&["run", remote.to_str().unwrap(), "--quiet", "--shard", "0/2"], &staging);
    assert!(
        !out.status.success() && stderr(&out).contains("s3://corpus/out2/part-00000.jsonl"),
        "{}",
        stderr(&out)
    );
    assert_no_staging_left(&staging);
}

#[test]
fn parquet_text_folders_and_https_inputs_read_from_the_store_as_from_disk() {
    let Some(Setup { moto, dir, staging, local_in }) = setup("data") else { return };
    let storage = storage_at(&moto.endpoint());
    let write = |name: &str, body: String| {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, body).unwrap();
        path
    };
    // Parquet written to the store by export.parquet, then read back by row groups.
    let to_parquet = |out: &str, storage: &str| {
        format!(
            "version: 1\nruntime: {{ out_dir: {out} }}\nstorage: {storage}\nstages:\n  - type: ingest.jsonl\n    path: {}\n  - type: export.parquet\n    path: {out}/docs.parquet\n    row_group_rows: 1000\n",
            local_in.join("a.jsonl").display()
        )
    };
    let local_pq = dir.path().join("pq");
    succeeded(&run(
        &[
            "run",
            write("pq-local", to_parquet(&local_pq.display().to_string(), "{}")).to_str().unwrap(),
            "--quiet",
        ],
        &staging,
    ));
    succeeded(&run(
        &["run", write("pq-remote", to_parquet("s3://data/pq", &storage)).to_str().unwrap(), "--quiet"],
        &staging,
    ));
    let parquet = std::fs::read(local_pq.join("docs.parquet")).unwrap();
    assert_eq!(moto.get("data/pq/docs.parquet").as_deref(), Some(&parquet[..]));
    // `source` (a source stage, as YAML after `- `) into `<name>/docs.jsonl`: the pipeline file.
    let to_jsonl = |name: &str, source: &str| {
        let out = dir.path().join(name);
        write(
            name,
            format!(
                "version: 1\nruntime: {{ out_dir: {o} }}\nstorage: {storage}\nstages:\n  - {source}\n  - type: export.jsonl\n    path: {o}/docs.jsonl\n",
                o = out.display()
            ),
        )
    };
    // Runs `source` to JSONL; the bytes written.
    let read_through = |name: &str, source: &str| {
        succeeded(&run(&["run", to_jsonl(name, source).to_str().unwrap(), "--quiet"], &staging));
        std::fs::read(dir.path().join(name).join("docs.jsonl")).unwrap()
    };
    let pq_local = local_pq.join("docs.parquet").display().to_string();
    assert_eq!(
        read_through("rd-local", &format!("type: ingest.parquet\n    path: {pq_local}")),
        read_through("rd-remote", "type: ingest.parquet\n    path: s3://data/pq/docs.parquet")
    );

    // A folder of text files, listed from a prefix.
    let texts = dir.path().join("texts");
    for (name, body) in
        [("site-a/one.txt", "Harbour budget\nFirst text."), ("site-b/two.txt", "Second text.")]
    {
        std::fs::create_dir_all(texts.join(name).parent().unwrap()).unwrap();
        std::fs::write(texts.join(name), body).unwrap();
        moto.put(&format!("data/texts/{name}"), body.as_bytes());
    }
    moto.put("data/texts/skip.bin", b"not a text file");
    // A sibling whose key only starts like the folder's is not in it.
    moto.put("data/texts-old/three.txt", b"Not in the folder.");
    let text_dir =
        |input: &str| format!("type: ingest.text_dir\n    path: {input}\n    folder_field: meta.site");
    let local = read_through("td-local", &text_dir(&texts.display().to_string()));
    let listed = String::from_utf8(read_through("td-remote", &text_dir("s3://data/texts"))).unwrap();
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert_eq!(String::from_utf8(local).unwrap(), listed);

    // https:// (here http:// on loopback) names one object, read by ranged GETs unsigned.
    let jsonl = |input: &str| format!("type: ingest.jsonl\n    path: {input}");
    moto.put_public("data/public/b.jsonl.gz", &std::fs::read(local_in.join("b.jsonl.gz")).unwrap());
    let url = format!("{}/data/public/b.jsonl.gz", moto.endpoint());
    assert_eq!(
        read_through("h-local", &jsonl(&local_in.join("b.jsonl.gz").display().to_string())),
        read_through("h-remote", &jsonl(&url))
    );

    // A folder named without its slash lists the objects under it, not keys that merely start
    // with the same letters (`in` vs `in-extra.jsonl`).
    moto.put("data/in-extra.jsonl", b"{\"id\":\"x\",\"text\":\"not in the folder\"}\n");
    let local = read_through("f-local", &jsonl(&local_in.display().to_string()));
    let listed = read_through("f-remote", &jsonl("s3://data/in"));
    assert!(local == listed, "the prefix listed other objects than the folder holds");
    assert!(!String::from_utf8_lossy(&listed).contains("not in the folder"));

    // A pattern that matches no object is the same clear error as on disk.
    let out = run(
        &[
            "run",
            to_jsonl("none", &jsonl("s3://data/nothing/*.jsonl")).to_str().unwrap(),
            "--quiet",
            "--overwrite",
        ],
        &staging,
    );
    assert!(!out.status.success() && stderr(&out).contains("s3://data/nothing/*.jsonl"), "{}", stderr(&out));
}

#[test]
fn a_burst_of_503s_is_retried_and_the_output_is_unchanged() {
    let Some(Setup { moto, dir, staging, .. }) = setup("corpus") else { return };
    let direct = pipeline(
        dir.path(),
        "direct",
        "s3://corpus/in/*.jsonl*",
        "s3://corpus/direct",
        &storage_at(&moto.endpoint()),
    );
    succeeded(&run(&["run", direct.to_str().unwrap(), "--quiet"], &staging));
    // Requests 3 to 11 (listing, heads, ranged GETs, then the upload's) are throttled.
    let proxy = Proxy::start(
        moto.port,
        Arc::new(|n, _| if (3..12).contains(&n) { Fault::SlowDown } else { Fault::Forward }),
    );
    let throttled = pipeline(
        dir.path(),
        "throttled",
        "s3://corpus/in/*.jsonl*",
        "s3://corpus/throttled",
        &storage_at(&proxy.endpoint()),
    );
    succeeded(&run(&["run", throttled.to_str().unwrap(), "--quiet"], &staging));
    assert_eq!(proxy.slowed.load(Ordering::SeqCst), 9, "the burst happened");
    let expected = moto.get("corpus/direct/part-00000.jsonl").unwrap();
    assert_eq!(moto.get("corpus/throttled/part-00000.jsonl"), Some(expected));
}

#[test]
fn an_upload_whose_parts_keep_failing_is_aborted_and_the_key_named() {
    let Some(Setup { moto, dir, staging, .. }) = setup("corpus") else { return };
    let proxy = Proxy::start(
        moto.port,
        Arc::new(|_, line: &str| if line.contains("partNumber=") { Fault::SlowDown } else { Fault::Forward }),
    );
    let storage = format!("{{ endpoint: \"{}\", max_retries: 2, retry_timeout_secs: 20 }}", proxy.endpoint());
    let p = pipeline(dir.path(), "failing", "s3://corpus/in/*.jsonl*", "s3://corpus/failing", &storage);
    let out = run(&["run", p.to_str().unwrap(), "--quiet"], &staging);
    let text = stderr(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("s3://corpus/failing/part-00000.jsonl"), "the error names the key: {text}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(proxy.slowed.load(Ordering::SeqCst) >= 3, "every try of a part was refused");
    assert_eq!(moto.get("corpus/failing/part-00000.jsonl"), None, "no partial object");
    assert_eq!(moto.unfinished_uploads("corpus"), 0, "the multipart upload was aborted");
    assert_no_staging_left(&staging);
}

#[test]
fn a_server_that_dies_mid_upload_fails_the_run_with_the_key_named() {
    let Some(Setup { moto, dir, staging, .. }) = setup("corpus") else { return };
    let port = moto.port;
    let server = Arc::new(Mutex::new(Some(moto)));
    let killer = server.clone();
    let proxy = Proxy::start(
        port,
        Arc::new(move |_, line: &str| {
            if line.contains("partNumber=") {
                drop(killer.lock().unwrap().take());
            }
            Fault::Forward
        }),
    );
    let storage = format!("{{ endpoint: \"{}\", max_retries: 2, retry_timeout_secs: 20 }}", proxy.endpoint());
    let p = pipeline(dir.path(), "dying", "s3://corpus/in/*.jsonl*", "s3://corpus/dying", &storage);
    let started = Instant::now();
    let out = run(&["run", p.to_str().unwrap(), "--quiet"], &staging);
    let text = stderr(&out);
    assert!(server.lock().unwrap().is_none(), "the server was killed during the upload: {text}");
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("s3://corpus/dying/part-00000.jsonl"), "the error names the key: {text}");
    assert!(started.elapsed() < Duration::from_secs(120), "gave up in bounded time");
    assert_no_staging_left(&staging);
}

#[test]
fn credentials_come_from_the_profile_files_when_the_environment_has_none() {
    let Some(moto) = Moto::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let staging = dir.path().join("staging");
    moto.create_bucket("profiles");
    moto.put("profiles/in/docs.jsonl", b"{\"id\":\"a\",\"text\":\"one\"}\n{\"id\":\"b\",\"text\":\"two\"}\n");
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/credentials"),
        format!("[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[work]\naws_access_key_id = millstone-profile\naws_secret_access_key = {SECRET}\n"),
    )
    .unwrap();
    std::fs::write(home.join(".aws/config"), "[profile work]\nregion = eu-west-1\n").unwrap();
    let p = pipeline(
        dir.path(),
        "profile",
        "s3://profiles/in/*.jsonl",
        "s3://profiles/out",
        &storage_at(&moto.endpoint()),
    );
    let out = millstone(&["run", p.to_str().unwrap(), "--quiet"], &staging)
        .env("HOME", &home)
        .env("AWS_PROFILE", "work")
        .output()
        .unwrap();
    succeeded(&out);
    assert_eq!(
        moto.get("profiles/out/part-00000.jsonl").as_deref(),
        Some(&b"{\"id\":\"a\",\"text\":\"one\"}\n{\"id\":\"b\",\"text\":\"two\"}\n"[..])
    );
    // Signed requests make private objects; an unsigned upload would be readable anonymously.
    assert_eq!(moto.anonymous_get_status("profiles/out/part-00000.jsonl"), 403, "the upload was signed");
}

#[test]
fn distributed_tasks_read_and_write_the_store_and_match_the_single_process_run() {
    let Some(Setup { moto, dir, staging, local_in }) = setup("corpus") else { return };
    let local = pipeline(
        dir.path(),
        "local",
        &format!("{}/*.jsonl*", local_in.display()),
        &dir.path().join("out").display().to_string(),
        "{}",
    );
    succeeded(&run(&["run", local.to_str().unwrap(), "--quiet"], &staging));
    let remote = dir.path().join("remote.yaml");
    std::fs::write(
        &remote,
        format!(
            "version: 1\nruntime: {{ out_dir: s3://corpus/dist }}\nstorage: {}\nstages:\n  - type: ingest.jsonl\n    paths: [\"s3://corpus/in/*.jsonl*\"]\n    shard_bytes: 4MiB\n  - type: clean.normalize_whitespace\n  - type: dedup.exact\n  - type: export.jsonl\n    path: s3://corpus/dist/docs.jsonl\n",
            storage_at(&moto.endpoint())
        ),
    )
    .unwrap();
    let work = dir.path().join("work");
    let submit = ["submit", remote.to_str().unwrap(), "--tasks", "3", "--work", work.to_str().unwrap()];
    succeeded(&run(&submit, &staging));
    let parts: Vec<u8> = (0..3)
        .flat_map(|k| {
            moto.get(&format!("corpus/dist/docs.{k:05}-of-00003.jsonl")).expect("every part is there")
        })
        .collect();
    assert_eq!(parts, std::fs::read(dir.path().join("out/part-00000.jsonl")).unwrap());
    // The tasks' markers hold the parts' checksums, read back from the store: nothing reruns.
    let again = succeeded(&run(&submit, &staging));
    assert!(again.contains("0 task(s) ran"), "{again}");
}
