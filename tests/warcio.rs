//! `ingest.warc` on WARC files written by a real writer: `warcio` (PyPI), the library
//! Webrecorder and many crawlers use. The test writes responses the way crawlers store them
//! (gzip `Content-Encoding`, `Transfer-Encoding: chunked`, a Latin-1 page declared in the HTTP
//! header, a 404, a redirect, a request record and a revisit record), reads them through a
//! pipeline and checks the text a browser would see, the status in meta and every record
//! accounted for. It needs a Python with `warcio` (`MILLSTONE_PYTHON`, else `python3`; `.ci/run`
//! makes one) and skips with a message otherwise.

use std::path::Path;
use std::process::Command;

const WRITER: &str = r#"
import gzip, io, sys
from warcio.warcwriter import WARCWriter
from warcio.statusandheaders import StatusAndHeaders

def response(writer, uri, status, headers, body):
    http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(uri, "response", payload=io.BytesIO(body), http_headers=http))

with open(sys.argv[1], "wb") as out:
    writer = WARCWriter(out, gzip=True)
    writer.write_record(writer.create_warcinfo_record("test.warc.gz", {"software": "warcio test"}))
    page = "<html><head><title>Harbour</title></head><body><p>Grüße aus dem Hafen.</p></body></html>".encode()
    req = StatusAndHeaders("GET /gz HTTP/1.1", [("Host", "a.example")], is_http_request=True)
    writer.write_record(writer.create_warc_record("http://a.example/gz", "request", payload=io.BytesIO(b""), http_headers=req))
    response(writer, "http://a.example/gz", "200 OK",
             [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")], gzip.compress(page))
    chunked = b"b\r\n<p>Chunked \r\n9\r\nbody.</p>\r\n0\r\n\r\n"
    response(writer, "http://a.example/chunked", "200 OK",
             [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")], chunked)
    response(writer, "http://a.example/latin1", "200 OK",
             [("Content-Type", "text/html; charset=ISO-8859-1")], "<p>Café crème</p>".encode("latin-1"))
    response(writer, "http://a.example/missing", "404 Not Found", [("Content-Type", "text/html")], b"<p>gone</p>")
    response(writer, "http://a.example/moved", "301 Moved Permanently",
             [("Location", "http://a.example/gz"), ("Content-Type", "text/html")], b"")
    response(writer, "http://a.example/logo.png", "200 OK", [("Content-Type", "image/png")], b"\x89PNG\r\n")
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    writer.write_record(writer.create_revisit_record("http://a.example/gz", "sha1:AAAA", "http://a.example/gz",
                                                      "2024-03-01T10:00:00Z", http_headers=http))
"#;

fn python() -> Option<String> {
    let python = std::env::var("MILLSTONE_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python).args(["-c", "import warcio"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "skipped: `{python}` cannot import warcio (pip install warcio in a venv and set MILLSTONE_PYTHON)"
        );
    }
    ok.then_some(python)
}

fn run(pipeline: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_millstone"))
        .args(["run", pipeline.to_str().unwrap(), "--quiet", "--report"])
        .arg(pipeline.with_file_name("run.json"))
        .output()
        .unwrap()
}

#[test]
fn warcio_written_responses_are_decoded_filtered_and_accounted_for() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let warc = dir.path().join("crawl.warc.gz");
    let script = dir.path().join("write.py");
    std::fs::write(&script, WRITER).unwrap();
    let wrote = Command::new(&python).arg(&script).arg(&warc).output().unwrap();
    assert!(wrote.status.success(), "{}", String::from_utf8_lossy(&wrote.stderr));
    let out = dir.path().join("docs.jsonl");
    let pipeline = dir.path().join("p.yaml");
    std::fs::write(
        &pipeline,
        format!(
            "stages:\n  - {{ type: ingest.warc, path: {}, record_types: [response] }}\n  - {{ type: export.jsonl, path: {} }}\n",
            warc.display(),
            out.display()
        ),
    )
    .unwrap();
    let ran = run(&pipeline);
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    let docs: Vec<serde_json::Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let text_of =
        |url: &str| docs.iter().find(|d| d["url"] == url).map(|d| d["text"].as_str().unwrap().to_string());
    assert!(text_of("http://a.example/gz").unwrap().contains("Grüße aus dem Hafen."), "{docs:?}");
    assert_eq!(text_of("http://a.example/chunked").unwrap(), "<p>Chunked body.</p>");
    assert_eq!(text_of("http://a.example/latin1").unwrap(), "<p>Café crème</p>");
    assert_eq!(docs.len(), 3, "{docs:?}");
    assert!(docs.iter().all(|d| d["http_status"] == 200 && d["crawl_date"].is_string()), "{docs:?}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pipeline.with_file_name("run.json")).unwrap()).unwrap();
    let source = &report["stages"][0];
    assert_eq!(source["docs_in"], 9, "every record is counted: {source}");
    let dropped = &source["dropped"];
    assert_eq!(
        (dropped["record_type"].as_u64(), dropped["http_status"].as_u64(), dropped["mime_type"].as_u64()),
        (Some(2), Some(2), Some(1)),
        "{source}"
    );
    assert_eq!(dropped["revisit"], 1, "{source}");
}
