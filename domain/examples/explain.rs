use std::io::BufRead;
fn main() {
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let line = line.split_once('\t').map_or(line.as_str(), |(_, t)| t).to_owned();
        println!("{line}\n{}", prism_domain::safety::explain(&line));
    }
}
