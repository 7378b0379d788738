//! Writes the bundled sample corpus: `gen-news OUT_DIR` creates `OUT_DIR/<site>/<story>.txt`
//! and `OUT_DIR/labels.tsv` (id, cluster).

use std::io::Write;

fn main() -> std::io::Result<()> {
    let out = std::env::args().nth(1).unwrap_or_else(|| "examples/news".into());
    let out = std::path::Path::new(&out);
    let docs = millstone_testkit::news::sample_corpus();
    let mut labels = std::fs::File::create(out.join("labels.tsv"))?;
    writeln!(labels, "id\tcluster")?;
    for doc in &docs {
        let path = out.join(format!("{}.txt", doc.id));
        std::fs::create_dir_all(path.parent().expect("has a parent"))?;
        std::fs::write(&path, &doc.text)?;
        writeln!(labels, "{}\t{}", doc.id, doc.cluster)?;
    }
    eprintln!("wrote {} documents to {}", docs.len(), out.display());
    Ok(())
}
