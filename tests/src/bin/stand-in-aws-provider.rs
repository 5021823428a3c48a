//! `stand-in-aws-provider`: a **test double** for `hashicorp/aws`, so that the end-to-end tests can have the real
//! `terraform` plan `examples/client-vpn/` and render the plan JSON (`terraform show -json`) that `jitlint` reads.
//! These machines cannot download the real provider (no access to registry.terraform.io or
//! releases.hashicorp.com); the tests install this binary as `terraform-provider-aws` through `dev_overrides`.
//!
//! What it does: it speaks plugin protocol 6 (served by `jit_provider::plugin::serve_provider`, the jit provider's
//! own handshake, mTLS and helper services) and serves, for exactly the resource types the scenario uses, the
//! attributes and blocks the scenario sets or references, with the names, types, nesting, block item limits and
//! required/optional/computed flags of the real provider's schema (hashicorp/terraform-provider-aws, SDKv2
//! resources: `internal/service/ec2/vpnclient_endpoint.go`, `internal/service/lambda/function.go`,
//! `internal/service/logs/{group,stream}.go`, `internal/service/iam/{role,role_policy}.go`,
//! `internal/service/sns/topic.go`), plus SDKv2's `id`. Validation accepts every configuration that fits the
//! schema (Terraform itself checks types, required attributes and block counts). A plan of a new resource is what
//! the real provider plans: Terraform's proposed new state with the real provider's defaults filled in
//! (`timeout = 3`, `memory_size = 128`, …), `tags_all` from known `tags` (no `default_tags`), and every other
//! computed attribute left unset unknown (`arn`, `id`, …). Like the real SDKv2 provider it answers with
//! `legacy_type_system`, since defaults change optional attributes.
//!
//! What it does not do: talk to AWS, create, read or delete anything (ApplyResourceChange refuses with an error,
//! ReadResource returns the state it is given, import refuses), check or normalize values the way the real
//! provider's validators and state functions do (ARN syntax, name patterns, ranges; the JSON of
//! `aws_iam_role_policy.policy` is planned as written, not re-serialized), serve any other resource, attribute,
//! data source or provider
//! argument, or plan updates beyond returning Terraform's proposal. It is no evidence of how the real provider
//! behaves beyond the schema facts above.

use std::collections::BTreeMap;
use std::process::ExitCode;

use jit_provider::plugin::{Handshake, serve_provider};
use jit_provider::proto::tfplugin6 as pb;
use jit_provider::server::wire::{decode, diags_to_pb, encode};
use jit_provider::tf::{Diagnostic, Value};
use tonic::{Request, Response, Status};

/// Whether the user sets an attribute, may set it, or only reads it (the protocol's required/optional/computed).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Required,
    Optional,
    OptionalComputed,
    Computed,
}

/// One attribute: its cty type in Terraform's JSON notation (`"string"`, `["map","string"]`), its mode, and the
/// real provider's `Default`, if it has one.
struct Attr {
    name: &'static str,
    ty: &'static str,
    mode: Mode,
    default: Option<Value>,
}

fn attr(name: &'static str, ty: &'static str, mode: Mode) -> Attr {
    Attr {
        name,
        ty,
        mode,
        default: None,
    }
}

impl Attr {
    fn with_default(self, value: Value) -> Attr {
        Attr {
            default: Some(value),
            ..self
        }
    }

    fn computed(&self) -> bool {
        matches!(self.mode, Mode::Computed | Mode::OptionalComputed)
    }
}

/// How a nested block repeats. SDKv2's `TypeList`/`TypeSet` of a `*schema.Resource` is a list or set block; its
/// `MaxItems: 1` stays a list of one, so the plan JSON shows `client_connect_options[0]`.
#[derive(Clone, Copy)]
enum Nesting {
    List,
    Set,
}

/// A nested block with its item limits as SDKv2 sends them (a `Required` block has at least one item).
struct Nested {
    name: &'static str,
    nesting: Nesting,
    min: i64,
    max: i64,
    block: Block,
}

struct Block {
    attrs: Vec<Attr>,
    blocks: Vec<Nested>,
}

/// SDKv2 adds `id` to every resource, optional and computed.
fn id() -> Attr {
    attr("id", STRING, Mode::OptionalComputed)
}

const STRING: &str = "\"string\"";
const NUMBER: &str = "\"number\"";
const BOOL: &str = "\"bool\"";
const STRING_LIST: &str = r#"["list","string"]"#;
const STRING_SET: &str = r#"["set","string"]"#;
const STRING_MAP: &str = r#"["map","string"]"#;

/// The provider block: `region` and `ignore_tags { keys, key_prefixes }`.
fn provider_block() -> Block {
    use Mode::Optional;
    Block {
        attrs: vec![attr("region", STRING, Optional)],
        blocks: vec![Nested {
            name: "ignore_tags",
            nesting: Nesting::List,
            min: 0,
            max: 1,
            block: Block {
                attrs: vec![
                    attr("keys", STRING_SET, Optional),
                    attr("key_prefixes", STRING_SET, Optional),
                ],
                blocks: vec![],
            },
        }],
    }
}

/// The resource types of `examples/client-vpn/`, each with what the scenario sets or references.
fn resources() -> BTreeMap<&'static str, Block> {
    use Mode::{Computed, Optional, OptionalComputed, Required};
    let flat = |attrs: Vec<Attr>| Block {
        attrs,
        blocks: vec![],
    };
    BTreeMap::from([
        (
            "aws_sns_topic",
            flat(vec![
                id(),
                attr("arn", STRING, Computed),
                attr("name", STRING, OptionalComputed),
            ]),
        ),
        (
            "aws_iam_role",
            flat(vec![
                id(),
                attr("arn", STRING, Computed),
                attr("name", STRING, OptionalComputed),
                attr("assume_role_policy", STRING, Required),
            ]),
        ),
        (
            "aws_iam_role_policy",
            flat(vec![
                id(),
                attr("name", STRING, OptionalComputed),
                attr("role", STRING, Required),
                attr("policy", STRING, Required),
            ]),
        ),
        (
            "aws_cloudwatch_log_group",
            flat(vec![
                id(),
                attr("arn", STRING, Computed),
                attr("name", STRING, OptionalComputed),
                attr("retention_in_days", NUMBER, Optional).with_default(Value::from(0i64)),
            ]),
        ),
        (
            "aws_cloudwatch_log_stream",
            flat(vec![
                id(),
                attr("arn", STRING, Computed),
                attr("name", STRING, Required),
                attr("log_group_name", STRING, Required),
            ]),
        ),
        (
            "aws_lambda_function",
            Block {
                attrs: vec![
                    id(),
                    attr("arn", STRING, Computed),
                    attr("function_name", STRING, Required),
                    attr("description", STRING, Optional),
                    attr("role", STRING, Required),
                    attr("runtime", STRING, Optional),
                    attr("handler", STRING, Optional),
                    attr("architectures", STRING_LIST, OptionalComputed),
                    attr("filename", STRING, Optional),
                    attr("source_code_hash", STRING, OptionalComputed),
                    attr("memory_size", NUMBER, Optional).with_default(Value::from(128i64)),
                    attr("timeout", NUMBER, Optional).with_default(Value::from(3i64)),
                ],
                blocks: vec![Nested {
                    name: "environment",
                    nesting: Nesting::List,
                    min: 0,
                    max: 1,
                    block: flat(vec![attr("variables", STRING_MAP, Optional)]),
                }],
            },
        ),
        (
            "aws_ec2_client_vpn_endpoint",
            Block {
                attrs: vec![
                    id(),
                    attr("arn", STRING, Computed),
                    attr("description", STRING, Optional),
                    attr("server_certificate_arn", STRING, Required),
                    attr("client_cidr_block", STRING, Required),
                    attr("split_tunnel", BOOL, Optional).with_default(Value::from(false)),
                    attr("tags", STRING_MAP, Optional),
                    attr("tags_all", STRING_MAP, OptionalComputed),
                ],
                blocks: vec![
                    Nested {
                        name: "authentication_options",
                        nesting: Nesting::Set,
                        min: 1,
                        max: 2,
                        block: flat(vec![
                            attr("type", STRING, Required),
                            attr("root_certificate_chain_arn", STRING, Optional),
                            attr("active_directory_id", STRING, Optional),
                            attr("saml_provider_arn", STRING, Optional),
                            attr("self_service_saml_provider_arn", STRING, Optional),
                        ]),
                    },
                    Nested {
                        name: "connection_log_options",
                        nesting: Nesting::List,
                        min: 1,
                        max: 1,
                        block: flat(vec![
                            attr("enabled", BOOL, Required),
                            attr("cloudwatch_log_group", STRING, Optional),
                            attr("cloudwatch_log_stream", STRING, OptionalComputed),
                        ]),
                    },
                    Nested {
                        name: "client_connect_options",
                        nesting: Nesting::List,
                        min: 0,
                        max: 1,
                        block: flat(vec![
                            attr("enabled", BOOL, OptionalComputed),
                            attr("lambda_function_arn", STRING, OptionalComputed),
                        ]),
                    },
                ],
            },
        ),
    ])
}

fn block_to_pb(block: &Block) -> pb::schema::Block {
    pb::schema::Block {
        attributes: block
            .attrs
            .iter()
            .map(|a| pb::schema::Attribute {
                name: a.name.to_string(),
                r#type: a.ty.as_bytes().to_vec(),
                required: a.mode == Mode::Required,
                optional: matches!(a.mode, Mode::Optional | Mode::OptionalComputed),
                computed: a.computed(),
                ..Default::default()
            })
            .collect(),
        block_types: block
            .blocks
            .iter()
            .map(|n| pb::schema::NestedBlock {
                type_name: n.name.to_string(),
                block: Some(block_to_pb(&n.block)),
                nesting: match n.nesting {
                    Nesting::List => pb::schema::nested_block::NestingMode::List,
                    Nesting::Set => pb::schema::nested_block::NestingMode::Set,
                } as i32,
                min_items: n.min,
                max_items: n.max,
            })
            .collect(),
        ..Default::default()
    }
}

fn schema(block: &Block) -> pb::Schema {
    pb::Schema {
        version: 0,
        block: Some(block_to_pb(block)),
    }
}

/// The planned state of a new object of `block` from Terraform's proposal: defaults for unset attributes that
/// have one, `tags_all` from known `tags`, every other unset computed attribute unknown; nested blocks alike.
fn plan_new(block: &Block, value: &mut Value) {
    let Value::Map(object) = value else { return };
    if block.attrs.iter().any(|a| a.name == "tags_all")
        && object.get("tags_all").is_none_or(Value::is_null)
        && let Some(tags @ Value::Map(m)) = object.get("tags")
        && !m.is_empty()
        && tags.is_wholly_known()
    {
        let tags = tags.clone();
        object.insert("tags_all".to_string(), tags);
    }
    for a in &block.attrs {
        let slot = object.entry(a.name.to_string()).or_insert(Value::Null);
        if slot.is_null() {
            if let Some(default) = &a.default {
                *slot = default.clone();
            } else if a.computed() {
                *slot = Value::Unknown;
            }
        }
    }
    for n in &block.blocks {
        if let Some(Value::List(items)) = object.get_mut(n.name) {
            for item in items {
                plan_new(&n.block, item);
            }
        }
    }
}

fn error(summary: &str, detail: String) -> Vec<pb::Diagnostic> {
    diags_to_pb(&Diagnostic::error(summary, detail).into())
}

const ONLY_PLANS: &str = "stand-in-aws-provider is the end-to-end tests' stand-in for hashicorp/aws: it only \
                          validates and plans, so that terraform can render a plan; it never talks to AWS";

struct StandIn {
    provider: Block,
    resources: BTreeMap<&'static str, Block>,
}

impl StandIn {
    fn resource(&self, type_name: &str) -> Result<&Block, Status> {
        self.resources.get(type_name).ok_or_else(|| {
            Status::invalid_argument(format!(
                "{type_name:?} is not one of the resource types stand-in-aws-provider serves"
            ))
        })
    }
}

fn capabilities() -> Option<pb::ServerCapabilities> {
    Some(pb::ServerCapabilities {
        plan_destroy: false,
        get_provider_schema_optional: false,
        move_resource_state: false,
    })
}

#[tonic::async_trait]
impl pb::provider_server::Provider for StandIn {
    async fn get_metadata(
        &self,
        _: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: capabilities(),
            resources: self
                .resources
                .keys()
                .map(|n| pb::get_metadata::ResourceMetadata {
                    type_name: n.to_string(),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(schema(&self.provider)),
            resource_schemas: self
                .resources
                .iter()
                .map(|(n, b)| (n.to_string(), schema(b)))
                .collect(),
            server_capabilities: capabilities(),
            ..Default::default()
        }))
    }

    async fn validate_provider_config(
        &self,
        _: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        Ok(Response::new(
            pb::validate_provider_config::Response::default(),
        ))
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        self.resource(&req.get_ref().type_name)?;
        Ok(Response::new(
            pb::validate_resource_config::Response::default(),
        ))
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        Err(Status::invalid_argument(format!(
            "stand-in-aws-provider serves no data source ({:?})",
            req.get_ref().type_name
        )))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        self.resource(&req.get_ref().type_name)?;
        let raw = req
            .get_ref()
            .raw_state
            .as_ref()
            .map(|s| s.json.as_slice())
            .unwrap_or_default();
        let value = if raw.is_empty() {
            Value::Null
        } else {
            Value::from_json(raw).map_err(|e| Status::invalid_argument(e.to_string()))?
        };
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state: encode(&value),
            ..Default::default()
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        Ok(Response::new(
            pb::get_resource_identity_schemas::Response::default(),
        ))
    }

    async fn upgrade_resource_identity(
        &self,
        _: Request<pb::upgrade_resource_identity::Request>,
    ) -> Result<Response<pb::upgrade_resource_identity::Response>, Status> {
        Err(Status::unimplemented(ONLY_PLANS))
    }

    async fn configure_provider(
        &self,
        _: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        Ok(Response::new(pb::configure_provider::Response::default()))
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let req = req.into_inner();
        self.resource(&req.type_name)?;
        Ok(Response::new(pb::read_resource::Response {
            new_state: req.current_state,
            private: req.private,
            ..Default::default()
        }))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let req = req.into_inner();
        let block = self.resource(&req.type_name)?;
        let prior = decode(req.prior_state.as_ref())?;
        let mut planned = decode(req.proposed_new_state.as_ref())?;
        if prior.is_null() {
            plan_new(block, &mut planned);
        }
        Ok(Response::new(pb::plan_resource_change::Response {
            planned_state: encode(&planned),
            planned_private: req.prior_private,
            // As the real provider's SDKv2 resources answer: its defaults fill optional attributes.
            legacy_type_system: true,
            ..Default::default()
        }))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let req = req.into_inner();
        Ok(Response::new(pb::apply_resource_change::Response {
            new_state: req.prior_state,
            diagnostics: error(
                "stand-in-aws-provider cannot apply",
                format!(
                    "{ONLY_PLANS}; {} was not changed. Apply with the real hashicorp/aws provider.",
                    req.type_name
                ),
            ),
            legacy_type_system: true,
            ..Default::default()
        }))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        Ok(Response::new(pb::import_resource_state::Response {
            diagnostics: error(
                "stand-in-aws-provider cannot import",
                format!("{ONLY_PLANS}; {} was not imported", req.get_ref().type_name),
            ),
            ..Default::default()
        }))
    }

    async fn move_resource_state(
        &self,
        _: Request<pb::move_resource_state::Request>,
    ) -> Result<Response<pb::move_resource_state::Response>, Status> {
        Err(Status::unimplemented(ONLY_PLANS))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        Err(Status::invalid_argument(format!(
            "stand-in-aws-provider serves no data source ({:?})",
            req.get_ref().type_name
        )))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        _: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Result<Response<pb::validate_ephemeral_resource_config::Response>, Status> {
        Err(Status::unimplemented(ONLY_PLANS))
    }

    async fn open_ephemeral_resource(
        &self,
        _: Request<pb::open_ephemeral_resource::Request>,
    ) -> Result<Response<pb::open_ephemeral_resource::Response>, Status> {
        Err(Status::unimplemented(ONLY_PLANS))
    }

    async fn renew_ephemeral_resource(
        &self,
        _: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Result<Response<pb::renew_ephemeral_resource::Response>, Status> {
        Err(Status::unimplemented(ONLY_PLANS))
    }

    async fn close_ephemeral_resource(
        &self,
        _: Request<pb::close_ephemeral_resource::Request>,
    ) -> Result<Response<pb::close_ephemeral_resource::Response>, Status> {
        Err(Status::unimplemented(ONLY_PLANS))
    }

    async fn get_functions(
        &self,
        _: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        Ok(Response::new(pb::get_functions::Response::default()))
    }

    async fn call_function(
        &self,
        _: Request<pb::call_function::Request>,
    ) -> Result<Response<pb::call_function::Response>, Status> {
        Err(Status::unimplemented(ONLY_PLANS))
    }

    async fn stop_provider(
        &self,
        _: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        Ok(Response::new(pb::stop_provider::Response::default()))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let handshake = match Handshake::from_env() {
        Ok(h) => h,
        Err(message) => {
            eprintln!("stand-in-aws-provider (a test double for hashicorp/aws): {message}");
            return ExitCode::FAILURE;
        }
    };
    let provider = StandIn {
        provider: provider_block(),
        resources: resources(),
    };
    match serve_provider(provider, None, handshake).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("stand-in-aws-provider: {message}");
            ExitCode::FAILURE
        }
    }
}
