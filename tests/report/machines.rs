//! Result files from several machines merged into one page: each machine's row and bars, machines named on the
//! command line, ratios against the machine asked for, directories searched, and what is not a result refused.

use super::*;

#[test]
fn bars_hold_each_machines_pp_and_tg_and_the_table_has_a_row_per_machine() {
    let dir = tempfile::tempdir().unwrap();
    let other = other_machine(CPU_BENCH, dir.path(), "other.json");
    let page = html(dir.path(), &[s(&repo(CPU_BENCH)), s(&other)]);
    let doc = parse(&page);
    let bars = series(&doc, "throughput-bars");
    assert_eq!(bars.len(), 2, "{bars:?}");
    for (name, file) in [
        ("vm · AMD EPYC", repo(CPU_BENCH)),
        ("gpu-box · Other CPU 9000", other),
    ] {
        let r = read_result(&file).unwrap();
        let (_, points) = bars.iter().find(|(n, _)| n == name).unwrap();
        let got: Vec<(String, f64)> = points.iter().map(|p| (p.2.clone(), p.1)).collect();
        let want: Vec<(String, f64)> = r
            .cases
            .iter()
            .map(|c| (c.test.clone(), c.summary.avg_ts.unwrap()))
            .collect();
        assert_eq!(got, want);
    }
    let table = by_id(&doc, "comparison").unwrap();
    let rows: Vec<_> = table
        .descendants()
        .filter(|n| n.has_tag_name("tr"))
        .collect();
    assert_eq!(rows.len(), 3, "header and one row per machine");
    let text: String = rows[2]
        .descendants()
        .filter(|d| d.is_text())
        .map(|d| d.text().unwrap())
        .collect();
    assert!(text.contains("gpu-box"), "{text}");
    assert!(text.contains("1.00×"), "same samples, same speed: {text}");
}

#[test]
fn name_equals_path_names_a_machine_that_shares_host_and_cpu_with_another() {
    // Two VMs with the same host name and CPU: only the names given on the command line tell them apart.
    let dir = tempfile::tempdir().unwrap();
    let copy = edit(CPU_BENCH, dir.path(), "second-vm.json", |v| {
        v["started_at"] = "2026-11-20T10:00:00Z".into();
    });
    let first = format!("first-vm={}", s(&repo(CPU_BENCH)));
    let second = format!("second-vm={}", s(&copy));
    let page = html(dir.path(), &[&first, &second]);
    let doc = parse(&page);
    let bars = series(&doc, "throughput-bars");
    let names: Vec<&str> = bars.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["first-vm", "second-vm"]);
    let unnamed = html(dir.path(), &[s(&repo(CPU_BENCH)), s(&copy)]);
    let bars = series(&parse(&unnamed), "throughput-bars");
    assert_eq!(bars.len(), 1, "unnamed, they are one machine");
}

#[test]
fn ratios_are_against_the_machine_relative_to_names() {
    let dir = tempfile::tempdir().unwrap();
    let other = edit(CPU_BENCH, dir.path(), "slower.json", |v| {
        v["host"]["hostname"] = "slow".into();
        v["started_at"] = "2026-11-20T10:00:00Z".into();
        for c in v["cases"].as_array_mut().unwrap() {
            for s in c["samples"].as_array_mut().unwrap() {
                // twice the time per repetition: half the t/s
                for k in ["prompt_ns", "gen_ns", "total_ns"] {
                    if let Some(x) = s[k].as_u64() {
                        s[k] = (2 * x).into();
                    }
                }
                if let Some(ts) = s["gen_token_ns"].as_array_mut() {
                    for t in ts {
                        *t = (2 * t.as_u64().unwrap()).into();
                    }
                }
            }
        }
    });
    let page = html(
        dir.path(),
        &[s(&repo(CPU_BENCH)), s(&other), "--relative-to", "slow"],
    );
    let doc = parse(&page);
    let table = by_id(&doc, "comparison").unwrap();
    let first: String = table
        .descendants()
        .filter(|n| n.has_tag_name("tr"))
        .nth(1)
        .unwrap()
        .descendants()
        .filter(|d| d.is_text())
        .map(|d| d.text().unwrap())
        .collect();
    assert!(first.contains("2.00×"), "{first}");
}

#[test]
fn the_page_references_nothing_outside_itself() {
    let dir = tempfile::tempdir().unwrap();
    let page = html(
        dir.path(),
        &[s(&repo(CPU_BENCH)), s(&repo(CPU_LOAD)), s(&repo(SLO_LOAD))],
    );
    parse(&page);
    let lower = page.to_lowercase();
    for banned in [
        "http:", "https:", "@import", "url(", "src=", "href=", "<script", "<link", "<img",
        "<iframe",
    ] {
        assert!(!lower.contains(banned), "the page contains {banned}");
    }
    assert!(lower.contains("@media print"));
}

#[test]
fn directories_are_searched_and_the_same_run_is_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let copies = dir.path().join("copies");
    std::fs::create_dir(&copies).unwrap();
    std::fs::copy(repo(CPU_BENCH), copies.join("a.json")).unwrap();
    std::fs::copy(repo(CPU_BENCH), copies.join("b.json")).unwrap();
    let out = dir.path().join("r.md");
    let o = tokenmeter(
        &["report", s(&repo(ROUNDS)), s(&copies), "-o", s(&out)],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // six rounds and one of the two copies; twelve llama-bench and -o json files, and the other copy, left out
    assert!(
        stderr(&o).contains("(7 result file(s); 13 left out)"),
        "{}",
        stderr(&o)
    );
    let md = std::fs::read_to_string(out).unwrap();
    assert!(md.contains("b.json: the same content as"), "{md}");
    // the same model (sha256) on the same machine: the rounds and the copy pool into one row
    assert!(md.contains("mean of 7 runs"), "{md}");
    assert!(
        md.contains("Charts are left out of the markdown report"),
        "{md}"
    );
    assert!(md.contains("| Machine | Device |"), "{md}");
}

#[test]
fn a_file_that_is_not_a_result_is_one_line_naming_it_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = repo(&format!("{ROUNDS}/llama-bench-round1.json"));
    let o = tokenmeter(&["report", s(&bad)], dir.path());
    assert_one_line_error(&o, "llama-bench-round1.json");
    let o = tokenmeter(&["report", s(&repo(CPU_BENCH)), "-o", "r.pdf"], dir.path());
    assert_one_line_error(&o, "r.pdf");
}
