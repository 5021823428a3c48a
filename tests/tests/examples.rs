//! The repository's `examples/` (documentation and the demo's scenario) stay formatted, valid, and working.

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_ec2::types::RuleAction;
use jit_e2e::{Aws, Moto, Terraform, jit_binary, workspace_root};
use serde_json::{Value, json};

#[test]
fn examples_are_formatted() {
    let moto = Moto::start();
    let no_provider = tempfile::tempdir().expect("temporary directory");
    let tf = Terraform::with_provider_dir(&moto, no_provider.path());
    let examples = workspace_root().join("examples");
    let examples = examples.to_str().expect("UTF-8 path");
    tf.run(&["fmt", "-check", "-diff", "-recursive", examples])
        .assert_success();
}

#[test]
fn examples_validate_against_the_provider_schema() {
    let moto = Moto::start();
    // The registry-style snippets have no terraform block of their own; the scenario declares its own.
    let versions =
        "terraform {\n  required_providers {\n    jit = { source = \"jit-access/jit\" }\n  }\n}\n";
    for (dir, add_versions) in [
        ("examples/provider", true),
        ("examples/resources/jit_access_rule", true),
        ("examples/resources/jit_source_ip_policy", true),
        ("examples/resources/jit_client_vpn_grant", true),
        ("examples/vpn-ike", false),
        ("examples/remote-work-allowlist", false),
    ] {
        let tf = Terraform::new(&moto);
        tf.copy_tf_files(&workspace_root().join(dir));
        if add_versions {
            std::fs::write(tf.dir().join("versions.tf"), versions).expect("write versions.tf");
        }
        let run = tf.run(&["validate", "-no-color"]);
        assert!(run.success(), "{dir} does not validate:\n{}", run.report());
    }
}

#[test]
fn vpn_ike_scenario_opens_ike_and_nat_traversal_for_one_address() {
    let moto = Moto::start();
    let aws = Aws::new(&moto);
    let acl = aws.new_network_acl();
    let tf = Terraform::new(&moto);
    tf.copy_tf_files(&workspace_root().join("examples/vpn-ike"));
    let var = format!("-var=network_acl_id={acl}");

    tf.apply_with(&[var.as_str()]).assert_success();
    let entries = aws.entries(&acl);
    let mut ports: Vec<i32> = entries
        .iter()
        .map(|e| {
            assert_eq!(e.egress(), Some(false), "{e:?}");
            assert_eq!(e.cidr_block(), Some("203.0.113.7/32"), "{e:?}");
            assert_eq!(e.protocol(), Some("17"), "{e:?}");
            assert_eq!(e.rule_action(), Some(&RuleAction::Allow), "{e:?}");
            let range = e.port_range().expect("a port range");
            assert_eq!(range.from(), range.to(), "{e:?}");
            range.from().expect("a port")
        })
        .collect();
    ports.sort_unstable();
    assert_eq!(ports, [500, 4500]);
    assert_eq!(aws.jit_tags(&acl).len(), 2, "one jit tag per grant");

    let plan = tf.run(&[
        "plan",
        "-detailed-exitcode",
        "-input=false",
        "-no-color",
        var.as_str(),
    ]);
    assert_eq!(
        plan.code,
        Some(0),
        "the plan after apply is empty:\n{}",
        plan.report()
    );

    tf.destroy_with(&[var.as_str()]).assert_success();
    assert!(aws.entries(&acl).is_empty());
    assert!(aws.jit_tags(&acl).is_empty());
}

#[test]
fn sweeper_refuses_a_lambda_bundle_for_the_other_architecture() {
    let moto = Moto::start();
    // Only the variables: they need no provider, so `terraform init` installs nothing.
    let no_provider = tempfile::tempdir().expect("temporary directory");
    let tf = Terraform::with_provider_dir(&moto, no_provider.path());
    std::fs::copy(
        workspace_root().join("examples/sweeper/variables.tf"),
        tf.dir().join("variables.tf"),
    )
    .expect("copy variables.tf");
    tf.run(&["init", "-input=false", "-no-color"])
        .assert_success();
    let plan = |package: &str, architecture: &str| {
        tf.run(&[
            "plan",
            "-input=false",
            "-no-color",
            "-var=network_acl_ids=[]",
            &format!("-var=package={package}"),
            &format!("-var=architecture={architecture}"),
        ])
    };
    let wrong = plan("jitctl-lambda_0.2.0_x86_64.zip", "arm64");
    wrong.assert_failure();
    assert!(
        wrong.text().contains(
            "package jitctl-lambda_0.2.0_x86_64.zip is a bundle for another architecture than \"arm64\""
        ),
        "{}",
        wrong.report()
    );
    plan("jitctl-lambda_0.2.0_x86_64.zip", "x86_64").assert_success();
    plan("jitctl-lambda_0.2.0_arm64.zip", "arm64").assert_success();
    // A bundle built and named by hand is the user's call.
    plan("my-sweeper.zip", "x86_64").assert_success();
}

/// What `jitlint check --format json` said about `paths` (run in `dir`, away from any `jitlint.toml`): its exit code
/// and its findings as (rule, message).
fn jitlint(dir: &Path, paths: &[&Path]) -> (Option<i32>, Vec<(String, String)>, String) {
    let out = Command::new(jit_binary("jitlint"))
        .arg("check")
        .args(paths)
        .args(["--format", "json"])
        .current_dir(dir)
        .output()
        .expect("run jitlint");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "jitlint's output is not JSON ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(report["errors"], json!([]), "every input is read: {stdout}");
    assert_eq!(
        report["summary"]["files"],
        paths.len(),
        "every input is linted: {stdout}"
    );
    let findings = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_string(),
                f["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (out.status.code(), findings, stdout)
}

/// `examples/client-vpn/` (or a variant of its `main.tf`) in a working directory with the stand-in for
/// hashicorp/aws, the handler policy beside it and a placeholder package, planned by the real terraform; returns
/// the directory and the path of the plan JSON (`terraform show -json`).
fn client_vpn_plan(moto: &Moto, main_tf: &str) -> (Terraform, PathBuf) {
    let example = workspace_root().join("examples/client-vpn");
    let mut tf =
        Terraform::with_stand_in_aws(moto, Path::new(env!("CARGO_BIN_EXE_stand-in-aws-provider")));
    tf.copy_tf_files(&example);
    tf.write_main_tf(main_tf);
    std::fs::copy(
        example.join("handler-policy.json"),
        tf.dir().join("handler-policy.json"),
    )
    .expect("copy handler-policy.json");
    // Only hashed at plan time (filebase64sha256); the stand-in uploads nothing.
    std::fs::write(
        tf.dir().join("jit-client-vpn-handler.zip"),
        "placeholder: the plan only hashes the package",
    )
    .expect("write the package");
    let cert =
        "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-000000000000";
    tf.set_env("TF_VAR_server_certificate_arn", cert)
        .set_env("TF_VAR_client_root_certificate_chain_arn", cert);
    let plan = tf.plan();
    assert!(plan.has_changes(), "{}", plan.run.report());
    let path = tf.dir().join("plan.json");
    std::fs::write(&path, plan.json.to_string()).expect("write plan.json");
    (tf, path)
}

/// Issue 12, item 4: jitlint on the scenario's real plan JSON (the real terraform planning `examples/client-vpn/`
/// with the jit provider and the stand-in for hashicorp/aws) and on its role policy finds nothing; a handler named
/// without `AWSClientVPN-` and with a 60 s timeout is JIT003 and JIT004, found through
/// `client_connect_options.lambda_function_arn = aws_lambda_function.handler.arn`, which is unknown at plan time.
#[test]
fn client_vpn_scenario_plan_passes_jitlint_and_a_wrong_handler_does_not() {
    let moto = Moto::start();
    let main_tf = std::fs::read_to_string(workspace_root().join("examples/client-vpn/main.tf"))
        .expect("read the example's main.tf");
    let (tf, plan_json) = client_vpn_plan(&moto, &main_tf);

    // The shape the rules have to follow: the handler's ARN is unknown until apply, only the configuration knows
    // which function it is.
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_json).unwrap()).expect("plan JSON");
    let change = |address: &str| -> &Value {
        plan["resource_changes"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["address"] == address))
            .map(|c| &c["change"])
            .unwrap_or_else(|| panic!("{address} is not in the plan"))
    };
    let endpoint = change("aws_ec2_client_vpn_endpoint.vpn");
    assert_eq!(endpoint["actions"], json!(["create"]));
    assert_eq!(
        endpoint["after"]["client_connect_options"][0]["enabled"],
        true
    );
    assert_eq!(
        endpoint["after_unknown"]["client_connect_options"][0]["lambda_function_arn"],
        true
    );
    let lambda = change("aws_lambda_function.handler");
    assert_eq!(lambda["after"]["function_name"], "AWSClientVPN-jit");
    assert_eq!(lambda["after"]["timeout"], 10);
    assert_eq!(lambda["after_unknown"]["arn"], true);
    let references = plan["configuration"]["root_module"]["resources"]
        .as_array()
        .and_then(|rs| {
            rs.iter()
                .find(|r| r["address"] == "aws_ec2_client_vpn_endpoint.vpn")
        })
        .map(
            |r| &r["expressions"]["client_connect_options"][0]["lambda_function_arn"]["references"],
        )
        .expect("the endpoint's configuration");
    assert!(
        references
            .as_array()
            .is_some_and(|r| r.contains(&json!("aws_lambda_function.handler.arn"))),
        "{references}"
    );
    for grant in ["jit_client_vpn_grant.laptop", "jit_client_vpn_grant.hotel"] {
        assert_eq!(change(grant)["actions"], json!(["create"]));
    }

    let policy = workspace_root().join("examples/client-vpn/handler-policy.json");
    let (code, findings, out) = jitlint(&tf.dir(), &[&plan_json, &policy]);
    assert!(findings.is_empty(), "no finding: {out}");
    assert_eq!(code, Some(0), "{out}");

    // The same scenario with the two mistakes the rules exist for.
    let wrong = main_tf
        .replacen(
            "function_name = \"AWSClientVPN-jit\"",
            "function_name = \"jit-connect-handler\"",
            1,
        )
        .replacen("timeout = 10", "timeout = 60", 1);
    assert!(
        !wrong.contains("AWSClientVPN-jit") && wrong.contains("timeout = 60"),
        "the example's main.tf changed: update this test"
    );
    let (tf, plan_json) = client_vpn_plan(&moto, &wrong);
    let (code, mut findings, out) = jitlint(&tf.dir(), &[&plan_json]);
    assert_eq!(code, Some(1), "{out}");
    findings.sort();
    let rules: Vec<&str> = findings.iter().map(|(rule, _)| rule.as_str()).collect();
    assert_eq!(rules, ["JIT003", "JIT004"], "{out}");
    assert!(
        findings[0]
            .1
            .contains("\"jit-connect-handler\" (aws_lambda_function.handler)")
            && findings[0]
                .1
                .contains("does not start with \"AWSClientVPN-\""),
        "{out}"
    );
    assert!(
        findings[1].1.contains("timeout 60 s")
            && findings[1].1.contains("aws_ec2_client_vpn_endpoint.vpn"),
        "{out}"
    );
}
