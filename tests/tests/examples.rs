//! The repository's `examples/` (documentation and the demo's scenario) stay formatted, valid, and working.

use aws_sdk_ec2::types::RuleAction;
use jit_e2e::{Aws, Moto, Terraform, workspace_root};

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
