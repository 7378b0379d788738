//! Predicts the top label of every line of a file, `rounds` times: a profiling harness
//! (`cargo run --release --example predict_file -- MODEL FILE [ROUNDS]`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, file, rest @ ..] = args.as_slice() else {
        return Err("usage: predict_file MODEL FILE [ROUNDS]".into());
    };
    let rounds: usize = rest.first().map_or(Ok(1), |r| r.parse())?;
    let model = millstone_fasttext::Model::open(model)?;
    let text = std::fs::read_to_string(file)?;
    let mut scratch = millstone_fasttext::Scratch::default();
    let start = std::time::Instant::now();
    let mut found = 0usize;
    for _ in 0..rounds {
        for line in text.lines() {
            found += model.predict_with(line, 1, 0.0, &mut scratch).len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{found} predictions, {:.1} MB/s", (text.len() * rounds) as f64 / secs / 1e6);
    Ok(())
}
