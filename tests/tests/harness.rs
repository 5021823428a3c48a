//! Tests of the end-to-end harness itself, without the jit provider: when these fail, the problem is the
//! environment (moto, terraform, the SDK), not the provider.

use jit_e2e::{Aws, HandEntry, Moto, Terraform};
use serde_json::json;

#[test]
fn moto_and_the_sdk_share_one_account() {
    let moto = Moto::start();
    let aws = Aws::new(&moto);
    let acl = aws.new_network_acl();
    assert!(acl.starts_with("acl-"), "{acl}");
    assert!(
        aws.entries(&acl).is_empty(),
        "moto's custom ACLs start empty"
    );

    aws.create_entry(
        &acl,
        &HandEntry {
            egress: false,
            rule_number: 100,
            cidr: "203.0.113.0/24",
            protocol: "17",
            allow: true,
            ports: Some((500, 500)),
        },
    );
    let entry = aws.entry(&acl, false, 100).expect("the entry just created");
    assert_eq!(entry.cidr_block(), Some("203.0.113.0/24"));
    assert!(
        aws.entry(&acl, true, 100).is_none(),
        "directions are separate"
    );
    assert_eq!(aws.rule_numbers(&acl, false), [100]);

    aws.tag(&acl, "Name", "x");
    aws.tag(&acl, "jit:test", "y");
    assert_eq!(aws.tags(&acl).len(), 2);
    assert_eq!(aws.jit_tags(&acl).keys().collect::<Vec<_>>(), ["jit:test"]);

    aws.delete_entry(&acl, false, 100);
    assert!(aws.entries(&acl).is_empty());

    let policy = aws
        .block_on(
            aws.iam()
                .create_policy()
                .policy_name("harness")
                .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#)
                .send(),
        )
        .expect("CreatePolicy");
    let arn = policy.policy().and_then(|p| p.arn()).expect("policy ARN");
    assert!(arn.starts_with("arn:aws:iam::"), "{arn}");
}

#[test]
fn terraform_runs_with_the_test_cli_config_and_environment() {
    let moto = Moto::start();
    // terraform_data is built into terraform, so this needs no jit provider; the override directory is empty.
    let no_provider = tempfile::tempdir().expect("temporary directory");
    let mut tf = Terraform::with_provider_dir(&moto, no_provider.path());
    tf.set_env("TF_VAR_acl", "acl-0123456789abcdef0");
    tf.write_main_tf(
        r#"
variable "acl" {}
resource "terraform_data" "d" {
  input = var.acl
}
"#,
    );

    let plan = tf.plan();
    assert!(plan.has_changes());
    assert_eq!(plan.actions("terraform_data.d"), ["create"]);
    assert!(
        plan.run
            .diagnostics()
            .iter()
            .any(|d| d.is_dev_overrides_warning()),
        "terraform read the test's CLI configuration:\n{}",
        plan.run.report()
    );
    assert!(plan.run.warnings().is_empty(), "{:#?}", plan.run.warnings());

    tf.apply().assert_success();
    let state = tf.state_resource("terraform_data.d").expect("in the state");
    assert_eq!(state["output"], json!("acl-0123456789abcdef0"));
    assert!(tf.plan_is_empty());
    tf.assert_plan_empty();

    tf.set_env("TF_VAR_acl", "acl-fedcba9876543210f");
    assert!(!tf.plan_is_empty(), "set_env reaches terraform");
    tf.remove_env("TF_VAR_acl");
    let run = tf.plan_run();
    run.assert_failure();
    assert!(
        run.errors().iter().any(|d| d.text().contains("acl")),
        "without TF_VAR_acl the variable has no value:\n{}",
        run.report()
    );
    tf.set_env("TF_VAR_acl", "acl-0123456789abcdef0");

    tf.destroy().assert_success();
    assert!(tf.state_resources().is_empty());
}
