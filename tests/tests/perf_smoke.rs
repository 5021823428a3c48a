//! The smoke version of the provider benchmark (`scripts/bench-provider.sh --smoke`), so that CI guards the
//! request count: one `terraform plan` over 20 grants on 4 network ACLs must cost one AWS request, not one per
//! ACL or per grant. It asserts the count only; times are for the benchmark script, never for tests.
//!
//! Requests are counted twice, independently: in moto's request log (everything that reached the local AWS) and
//! in the provider's own `aws_request` debug lines (TF_LOG_PROVIDER=debug into TF_LOG_PATH). They must agree.

use std::path::Path;
use std::time::{Duration, Instant};

use jit_e2e::{Aws, Moto, Terraform, jit_config};
use serde_json::{Map, Value};

const ACLS: usize = 4;
const GRANTS: usize = 20;

/// Terraform refreshes each grant with its own ReadResource. The provider's first read fetches every ACL that
/// holds a jit grant in one DescribeNetworkAcls and serves the other reads from that 5 s snapshot, so the
/// refresh costs one request. The bound leaves room for one more, should the refresh outlast the snapshot on
/// a slow machine (here it takes well under a second). Reading per ACL would cost at least `ACLS` = 4
/// requests and per grant at least `GRANTS`: both fail.
const MAX_REQUESTS: usize = 2;

#[test]
fn one_plan_reads_every_acl_in_one_request() {
    let moto = Moto::start();
    let aws = Aws::new(&moto);
    let vpc = aws.create_vpc("10.0.0.0/16");
    let acls: Vec<String> = (0..ACLS).map(|_| aws.create_network_acl(&vpc)).collect();

    let mut tf = Terraform::new(&moto);
    let acl_list = acls
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    // Automatic numbering and both directions, as in the full benchmark.
    tf.write_main_tf(&jit_config(
        "  rule_numbers = { from = 100, to = 199 }",
        &format!(
            r#"locals {{
  acls = [{acl_list}]
}}

resource "jit_access_rule" "g" {{
  count          = {GRANTS}
  network_acl_id = local.acls[count.index % length(local.acls)]
  cidr_block     = "198.18.0.${{count.index}}/32"
  protocol       = "tcp"
  from_port      = 443
  egress         = floor(count.index / length(local.acls)) % 2 == 1
  ttl            = "1h"
}}
"#
        ),
    ));
    tf.apply().assert_success();
    for acl in &acls {
        assert_eq!(
            aws.entries(acl).len(),
            GRANTS / ACLS,
            "every grant should have its entry on {acl}"
        );
    }

    let debug_log = tf.dir().join("plan-debug.log");
    tf.set_env("TF_LOG_PROVIDER", "debug")
        .set_env("TF_LOG_PATH", &debug_log.display().to_string());
    let before = moto_requests(&moto.log());
    assert!(
        tf.plan_is_empty(),
        "the plan right after apply must be empty"
    );
    let log = ProviderLog::read(&debug_log);
    let provider_count = log.requests.len();
    // moto logs a request after answering it, and its output reaches us through a reader thread.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut moto_count = moto_requests(&moto.log()) - before;
    while moto_count < provider_count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        moto_count = moto_requests(&moto.log()) - before;
    }

    assert_eq!(
        log.reads, GRANTS,
        "terraform should refresh every grant once; the provider logged {} ReadResource summaries",
        log.reads
    );
    assert_eq!(
        moto_count, provider_count,
        "moto served {moto_count} requests during the plan, the provider logged {provider_count}: {:?}",
        log.requests
    );
    assert!(
        (1..=MAX_REQUESTS).contains(&moto_count),
        "one plan over {GRANTS} grants on {ACLS} ACLs made {moto_count} AWS requests; expected one region-wide \
         read of the ACLs holding grants (at most {MAX_REQUESTS}): {:?}",
        log.requests
    );
    assert!(
        log.requests
            .iter()
            .all(|op| op == "EC2:DescribeNetworkAcls"),
        "a plan of unchanged grants only reads: {:?}",
        log.requests
    );
}

/// AWS API requests in moto's access log (its own `/moto-api/` calls excluded).
fn moto_requests(log: &str) -> usize {
    log.lines()
        .filter(|line| {
            ["\"GET ", "\"POST ", "\"PUT ", "\"DELETE "]
                .iter()
                .any(|method| line.contains(method))
                && line.contains(" HTTP/")
                && !line.contains("/moto-api")
        })
        .count()
}

/// What the provider logged during one terraform command, from terraform's TF_LOG_PATH file.
struct ProviderLog {
    /// One `service:Operation` per AWS request.
    requests: Vec<String>,
    /// How many ReadResource calls logged their summary.
    reads: usize,
}

impl ProviderLog {
    fn read(path: &Path) -> ProviderLog {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("terraform wrote no log to {}: {e}", path.display()));
        let mut log = ProviderLog {
            requests: Vec::new(),
            reads: 0,
        };
        for fields in text.lines().filter_map(provider_fields) {
            if let Some(op) = fields.get("aws_request").and_then(Value::as_str) {
                log.requests.push(op.to_string());
            }
            if fields.contains_key("aws_requests")
                && fields.get("operation").and_then(Value::as_str) == Some("ReadResource")
            {
                log.reads += 1;
            }
        }
        log
    }
}

/// The fields of one line the provider wrote, as terraform records it:
/// `TIME [LEVEL] provider.terraform-provider-jit: ` and then either the provider's JSON line as is (when
/// go-plugin could not parse it as hclog) or go-plugin's rendering `message: key=value ...`.
fn provider_fields(line: &str) -> Option<Map<String, Value>> {
    const PREFIX: &str = "provider.terraform-provider-jit: ";
    let rest = &line[line.find(PREFIX)? + PREFIX.len()..];
    if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(rest) {
        return Some(fields);
    }
    Some(
        rest.split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect(),
    )
}
