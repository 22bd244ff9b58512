//! The README and docs/deploy.md say what is true: the command-line synopsis matches
//! `refresco … --help`, the client setup is the client tests', the example configuration loads.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

#[path = "common/process.rs"]
mod process;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The first fenced block that starts with `refresco ` after the heading `heading`, without its
/// fences.
fn block_after(text: &str, heading: &str) -> String {
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no heading {heading:?}"));
    let rest = &text[start..];
    let body = &rest[rest.find("\n```\nrefresco ").expect("a synopsis block") + 5..];
    body[..body.find("\n```").unwrap()].to_owned()
}

/// One command as a synopsis shows it: its words, its flags, which are required, and its
/// positional arguments.
#[derive(Debug, Default)]
struct Synopsis {
    flags: BTreeSet<String>,
    required: BTreeSet<String>,
    positionals: Vec<String>,
}

/// Reads a README synopsis line after the command words: `--flag` outside `[...]` is required.
fn parse_readme_line(tokens: &[&str]) -> Synopsis {
    let mut synopsis = Synopsis::default();
    let mut depth = 0i32;
    for token in tokens {
        let opened = token.matches('[').count() as i32;
        let word = token.trim_matches(|c| c == '[' || c == ']');
        if let Some(flag) = word.strip_prefix("--") {
            synopsis.flags.insert(flag.to_owned());
            if depth + opened == 0 {
                synopsis.required.insert(flag.to_owned());
            }
        } else if depth + opened == 0
            && !word.is_empty()
            && word.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            && !is_value_of_previous_flag(tokens, token)
        {
            synopsis.positionals.push(word.to_owned());
        }
        depth += opened - token.matches(']').count() as i32;
    }
    synopsis
}

/// True when `token` directly follows a `--flag` (it is that flag's value, not an argument).
fn is_value_of_previous_flag(tokens: &[&str], token: &&str) -> bool {
    let at = tokens.iter().position(|t| std::ptr::eq(t, token)).unwrap();
    at > 0 && tokens[at - 1].trim_start_matches('[').starts_with("--")
}

/// What `refresco <words> --help` shows: every option, the required ones (outside `[...]` in
/// its usage line) and the positional arguments.
fn parse_help(words: &[&str]) -> Synopsis {
    let mut args = words.to_vec();
    args.push("--help");
    let (ok, out, err) = process::run(&args, &[]);
    assert!(ok, "refresco {args:?}: {err}");
    let mut synopsis = Synopsis::default();
    let usage = out.lines().find_map(|l| l.strip_prefix("Usage: ")).unwrap();
    let mut depth = 0i32;
    for token in usage.split_whitespace() {
        let opened = token.matches('[').count() as i32;
        if depth + opened == 0 {
            if let Some(flag) = token.strip_prefix("--") {
                synopsis.required.insert(flag.to_owned());
            } else if let Some(name) = token.strip_prefix('<') {
                let previous_is_flag =
                    usage
                        .split(&format!(" {token}"))
                        .next()
                        .is_some_and(|before| {
                            before
                                .split_whitespace()
                                .last()
                                .is_some_and(|t| t.starts_with("--"))
                        });
                if !previous_is_flag {
                    synopsis
                        .positionals
                        .push(name.trim_end_matches('>').to_owned());
                }
            }
        }
        depth += opened - token.matches(']').count() as i32;
    }
    for line in out.lines() {
        let line = line.trim_start();
        let line = line.strip_prefix("-h, ").unwrap_or(line);
        if let Some(rest) = line.strip_prefix("--") {
            let flag: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if flag != "help" && flag != "config" {
                synopsis.flags.insert(flag);
            }
        }
    }
    synopsis
}

/// The names under `Commands:` in `refresco <words> --help`.
fn subcommands(words: &[&str]) -> Vec<String> {
    let mut args = words.to_vec();
    args.push("--help");
    let (ok, out, err) = process::run(&args, &[]);
    assert!(ok, "{err}");
    out.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|name| name != "help")
        .collect()
}

#[test]
fn the_cli_synopsis_matches_the_help() {
    let block = block_after(&readme(), "## Running it");
    let mut shown = Vec::new();
    for line in block.lines().skip(1) {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(tokens[0], "refresco", "{line}");
        let words: Vec<&str> = tokens[1..]
            .iter()
            .copied()
            .take_while(|t| {
                t.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !t.starts_with('-')
            })
            .collect();
        let readme = parse_readme_line(&tokens[1 + words.len()..]);
        let help = parse_help(&words);
        let command = words.join(" ");
        assert_eq!(
            readme.flags, help.flags,
            "`refresco {command}`: the README's flags (left) differ from --help's (right)"
        );
        assert_eq!(
            readme.required, help.required,
            "`refresco {command}`: the README's required flags (left) differ from --help's (right)"
        );
        assert_eq!(
            readme.positionals, help.positionals,
            "`refresco {command}`: the README's arguments (left) differ from --help's (right)"
        );
        shown.push(command);
    }
    // Every command is shown: a group by each of its subcommands.
    for command in subcommands(&[]) {
        if shown.contains(&command) {
            continue;
        }
        let inner = subcommands(&[command.as_str()]);
        assert!(
            !inner.is_empty(),
            "the README does not show `refresco {command}`"
        );
        for sub in inner {
            let full = format!("{command} {sub}");
            assert!(
                shown.contains(&full),
                "the README does not show `refresco {full}`"
            );
        }
    }
}

/// The README section under `heading`, up to the next `## ` heading.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no heading {heading:?}"));
    let rest = &text[start + heading.len() + 2..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// The files of `dir` ending in `ext`, with their text.
fn client_scripts(dir: &str, ext: &str) -> Vec<(String, String)> {
    let mut scripts: Vec<(String, String)> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                (p.display().to_string(), text)
            })
            .collect();
    scripts.sort();
    assert!(!scripts.is_empty(), "no .{ext} files in {dir}");
    scripts
}

/// The README's lines to point a client at Refresco, and the versions it tells to install, are
/// those of the client tests.
#[test]
fn the_documented_client_setup_is_the_tested_one() {
    let text = readme();
    let clients = section(&text, "## The official clients");

    // Python: the pins of `pip install` are requirements.txt's, and httpx is below 0.28.
    let requirements = repo_file("tests/clients/python/requirements.txt");
    let pip = clients
        .lines()
        .find(|l| l.starts_with("pip install "))
        .expect("a pip install line");
    let pins: Vec<&str> = pip.split_whitespace().skip(2).collect();
    assert!(pins.iter().any(|p| p.starts_with("fintoc==")), "{pip}");
    for pin in &pins {
        assert!(
            requirements.lines().any(|l| l.trim() == *pin),
            "README pins {pin}, requirements.txt does not"
        );
    }
    let httpx = pins
        .iter()
        .find_map(|p| p.strip_prefix("httpx=="))
        .expect("the README pins httpx");
    let minor: u32 = httpx.split('.').nth(1).unwrap().parse().unwrap();
    assert!(httpx.starts_with("0.") && minor < 28, "httpx {httpx}");

    // Node: the version of `npm install` is package.json's.
    let npm = clients
        .lines()
        .find_map(|l| l.strip_prefix("npm install fintoc@"))
        .expect("an npm install line");
    let package: serde_json::Value =
        serde_json::from_str(&repo_file("tests/clients/node/package.json")).unwrap();
    assert_eq!(package["dependencies"]["fintoc"], npm.trim());

    // The base-URL line of each language, as every client script of that language has it.
    for (assignment, dir, ext) in [
        ("client._client.base_url = ", "tests/clients/python", "py"),
        (
            "fintoc.links._client.baseUrl = ",
            "tests/clients/node",
            "js",
        ),
    ] {
        assert!(
            clients
                .lines()
                .any(|l| l.trim_start().starts_with(assignment)),
            "the README shows `{assignment}…`"
        );
        for (path, script) in client_scripts(dir, ext) {
            assert!(
                script.lines().any(|l| l.trim_start().starts_with(assignment)),
                "{path} does not point its client at the server as the README does (`{assignment}…`)"
            );
        }
    }
}

/// docs/deploy.md's example configuration loads, with the variables its environment file gives,
/// and shows every setting (set, or commented out with the reason).
#[test]
fn the_deploy_example_configuration_loads() {
    let deploy = repo_file("docs/deploy.md");
    let open = deploy.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let toml = &deploy[open..open + deploy[open..].find("\n```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("refresco.toml");
    std::fs::write(&file, toml).unwrap();
    // What /etc/refresco/refresco.env holds, as flags would give it.
    let environment = serde_json::json!({
        "database_url": "postgres://refresco:secret@127.0.0.1:5432/refresco",
        "master_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "connector_token": "token",
    });
    let config = refresco::Config::load(Some(&file), &environment)
        .unwrap_or_else(|e| panic!("docs/deploy.md's configuration: {e}"));
    assert!(!config.sandbox);
    assert_eq!(config.connectors.len(), 1);
    assert_eq!(config.log_format, refresco::config::LogFormat::Json);
    assert_eq!(
        config.public_url.as_deref(),
        Some("https://refresco.example.com")
    );
    let settings = serde_json::to_value(refresco::Config::default()).unwrap();
    for name in settings.as_object().unwrap().keys() {
        assert!(
            toml.lines().any(|l| {
                let l = l.trim_start_matches("# ");
                l.starts_with(&format!("{name} = ")) || l == format!("[[{name}]]")
            }),
            "docs/deploy.md's configuration does not show {name}"
        );
    }
}
