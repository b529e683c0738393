"""template.yaml, the build files and events/: what must hold for `sam deploy` to give the design's stack.

The template is read with cfn-lint's YAML loader (it understands !Ref, !Sub, !If, ...), and linted
with cfn-lint itself, which also runs the SAM transform.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.decode import cfn_yaml

from lambdagate.observability import metrics as emitted

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
FUNCTION_IDS = ("ChatFunction", "CompletionsFunction", "EmbeddingsFunction", "MessagesFunction", "ModelsFunction",
                "ResponsesFunction", "StreamFunction")
API_FUNCTION_IDS = FUNCTION_IDS[:-1]
TOOLING = {"pytest", "moto", "openai", "ruff", "mypy", "jsonschema", "boto3-stubs", "types-pyyaml",
           "boto3", "botocore", "s3transfer", "aws-sam-cli", "cfn-lint", "hatchling", "pip", "setuptools"}


@pytest.fixture(scope="module")
def template() -> Any:
    return cfn_yaml.load(str(TEMPLATE))


def resources(template: Any, kind: str) -> dict[str, Any]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def function(template: Any, name: str) -> dict[str, Any]:
    """A function's properties with the Globals applied as SAM applies them (maps merge, lists append)."""
    merged = dict(template["Globals"]["Function"])
    for key, value in template["Resources"][name]["Properties"].items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and "Variables" in value:
            merged[key] = {"Variables": {**merged[key]["Variables"], **value["Variables"]}}
        elif isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = [*merged[key], *value]
        else:
            merged[key] = value
    return merged


def statements(template: Any) -> list[tuple[str, dict[str, Any], str | None]]:
    """(policy name, statement, condition or None) of every inline policy of the functions' role."""
    found = []
    for policy in template["Resources"]["FunctionRole"]["Properties"]["Policies"]:
        condition = None
        if "Fn::If" in policy:
            condition, policy, otherwise = policy["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}
        for statement in policy["PolicyDocument"]["Statement"]:
            found.append((policy["PolicyName"], statement, condition))
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- lint --------------------------------------------------------------------------------------


def test_cfn_lint_passes() -> None:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(TEMPLATE, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [str(m) for m in matches] == []


def transformed(template: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The plain CloudFormation that the SAM transform makes of the template (as `sam deploy` would)."""
    translator = pytest.importorskip("samtranslator.translator.transform", reason="aws-sam-translator not installed")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    document = json.loads(json.dumps(template))
    for resource in document["Resources"].values():  # `sam package` puts the artifacts in S3
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in props:
                props[key] = f"s3://artifacts/{key}.zip"

    class NoManagedPolicies:  # the template names none; nothing to look up in IAM
        def load(self) -> dict[str, str]:
            return {}

    output: dict[str, Any] = translator.transform(document, {}, NoManagedPolicies())
    return output


def test_transformed_template_lints_clean_and_streams_through_the_alias(
    template: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cfn-lint checks SAM resources only shallowly: lint the transform's output too."""
    from cfnlint.api import ManualArgs, lint

    output = transformed(template, monkeypatch)
    matches = lint(json.dumps(output), config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [str(m) for m in matches] == []

    by_type: dict[str, dict[str, Any]] = {}
    for name, resource in output["Resources"].items():
        by_type.setdefault(resource["Type"], {})[name] = resource["Properties"]
    url = by_type["AWS::Lambda::Url"]["StreamFunctionUrl"]
    assert {k: v for k, v in url.items() if k != "Cors"} == {
        "TargetFunctionArn": {"Ref": "StreamFunctionAliaslive"}, "AuthType": {"Ref": "StreamAuthType"},
        "InvokeMode": "RESPONSE_STREAM"}
    # A public URL needs both: lambda:InvokeFunctionUrl, and lambda:InvokeFunction via the URL (Oct. 2025);
    # an AWS_IAM URL gets neither (its callers need both in their own policies).
    public = {name: r for name, r in output["Resources"].items() if r["Type"] == "AWS::Lambda::Permission"
              and r["Properties"]["FunctionName"] == {"Ref": "StreamFunctionAliaslive"}}
    assert {r["Properties"]["Action"] for r in public.values()} == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    for permission in public.values():
        assert permission["Condition"] == "StreamPublic" and permission["Properties"]["Principal"] == "*"
        props = permission["Properties"]
        assert props.get("FunctionUrlAuthType") == "NONE" or props.get("InvokedViaFunctionUrl") is True
    for name in FUNCTION_IDS:
        props = by_type["AWS::Lambda::Function"][name]
        assert props["SnapStart"] == {"ApplyOn": {"Fn::If": ["SnapStartOn", "PublishedVersions", "None"]}}
        assert props["Architectures"] == ["arm64"] and props["Runtime"] == "python3.13"
        assert props["ReservedConcurrentExecutions"]["Fn::If"][0] == name.replace("Function", "Reserved")
    assert set(by_type["AWS::Lambda::Alias"]) == {f"{name}Aliaslive" for name in FUNCTION_IDS}
    # Each deploy's new version replaces the old one, which CloudFormation then deletes (not Retain).
    versions = [r for r in output["Resources"].values() if r["Type"] == "AWS::Lambda::Version"]
    assert len(versions) == len(FUNCTION_IDS) and {v["DeletionPolicy"] for v in versions} == {"Delete"}
    # HTTP API: stage-wide throttling, and CORS in the OpenAPI body only when origins are given.
    stage = by_type["AWS::ApiGatewayV2::Stage"]["HttpApiApiGatewayDefaultStage"]
    assert stage["DefaultRouteSettings"] == {"ThrottlingRateLimit": {"Ref": "ApiRateLimit"},
                                             "ThrottlingBurstLimit": {"Ref": "ApiBurstLimit"}}
    cors = by_type["AWS::ApiGatewayV2::Api"]["HttpApi"]["Body"]["x-amazon-apigateway-cors"]["Fn::If"]
    assert cors[0] == "CorsOn" and cors[2] == {"Ref": "AWS::NoValue"}
    assert "authorization" in cors[1]["allowHeaders"] and "x-request-id" in cors[1]["exposeHeaders"]
    # The API invokes the published alias, not $LATEST.
    for permission in by_type["AWS::Lambda::Permission"].values():
        if permission["Principal"] == "apigateway.amazonaws.com":
            assert permission["FunctionName"]["Ref"].endswith("Aliaslive")


# --- functions ---------------------------------------------------------------------------------


def test_runtime_architecture_memory_and_timeouts(template: Any) -> None:
    params = template["Parameters"]
    assert params["MemorySize"]["Default"] == 256
    assert params["StreamTimeout"]["Default"] == 900 and params["StreamTimeout"]["MaxValue"] == 900
    for name in FUNCTION_IDS:
        props = function(template, name)
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert props["MemorySize"] == {"Ref": "MemorySize"}
        assert props["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}
        assert {"Ref": "LambdagateLayer"} in props["Layers"]
        env = props["Environment"]["Variables"]
        assert env["LAMBDAGATE_CONFIG"] == {"Fn::Sub": "ssm:${ConfigPrefix}"}
        assert env["POWERTOOLS_SERVICE_NAME"] and env["POWERTOOLS_METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}
    for name in API_FUNCTION_IDS:  # API Gateway ends integrations at 30 s
        assert function(template, name)["Timeout"] <= 30
    assert function(template, "StreamFunction")["Timeout"] == {"Ref": "StreamTimeout"}


def test_api_functions_have_their_routes_with_and_without_v1(template: Any) -> None:
    routes = {}
    for name in API_FUNCTION_IDS:
        for spec in template["Resources"][name]["Properties"]["Events"].values():
            assert spec["Type"] == "HttpApi" and spec["Properties"]["ApiId"] == {"Ref": "HttpApi"}
            routes[(spec["Properties"]["Method"], spec["Properties"]["Path"])] = name
    assert routes == {
        ("POST", "/v1/chat/completions"): "ChatFunction", ("POST", "/chat/completions"): "ChatFunction",
        ("POST", "/v1/completions"): "CompletionsFunction", ("POST", "/completions"): "CompletionsFunction",
        ("GET", "/v1/models"): "ModelsFunction", ("GET", "/v1/models/{model+}"): "ModelsFunction",
        ("GET", "/models"): "ModelsFunction", ("GET", "/models/{model+}"): "ModelsFunction",
        ("POST", "/v1/responses"): "ResponsesFunction", ("POST", "/responses"): "ResponsesFunction",
        ("POST", "/v1/embeddings"): "EmbeddingsFunction", ("POST", "/embeddings"): "EmbeddingsFunction",
        ("POST", "/v1/messages"): "MessagesFunction", ("POST", "/messages"): "MessagesFunction",
        ("POST", "/v1/messages/count_tokens"): "MessagesFunction",
        ("POST", "/messages/count_tokens"): "MessagesFunction",
    }


def test_streaming_function_url_and_web_adapter(template: Any) -> None:
    props = function(template, "StreamFunction")
    assert "FunctionUrlConfig" not in props  # declared as its own resource, to take the auth type as a parameter
    url = template["Resources"]["StreamFunctionUrl"]
    assert url["Type"] == "AWS::Lambda::Url"
    assert url["Properties"]["TargetFunctionArn"] == {"Ref": "StreamFunction.Alias"}
    assert url["Properties"]["InvokeMode"] == "RESPONSE_STREAM"
    assert props["Handler"] == "run.sh"
    env = props["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["PORT"] == "8080"
    assert env["AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"].startswith("/_lambdagate/")
    adapter = props["Layers"][-1]["Fn::If"]
    assert adapter[0] == "CustomLwaLayer" and adapter[1] == {"Ref": "LwaLayerArn"}
    assert adapter[2]["Fn::Sub"] == (
        "arn:${AWS::Partition}:lambda:${AWS::Region}:753240598075:layer:LambdaAdapterLayerArm64:${LwaLayerVersion}")
    assert template["Parameters"]["LwaLayerVersion"]["Default"] >= 25


def test_functions_skip_pydantics_plugin_scan_as_the_init_tests_run_them(template: Any) -> None:
    from test_init_first_request import TEMPLATE_ENV

    for name in FUNCTION_IDS:
        env = function(template, name)["Environment"]["Variables"]
        assert env["PYDANTIC_DISABLE_PLUGINS"] == TEMPLATE_ENV["PYDANTIC_DISABLE_PLUGINS"] == "__all__", name


def test_snapstart_is_a_parameter(template: Any) -> None:
    assert template["Parameters"]["EnableSnapStart"]["Default"] == "false"
    assert template["Conditions"]["SnapStartOn"] == {"Fn::Equals": [{"Ref": "EnableSnapStart"}, "true"]}
    globals_ = template["Globals"]["Function"]
    assert globals_["SnapStart"] == {"ApplyOn": {"Fn::If": ["SnapStartOn", "PublishedVersions", "None"]}}
    assert globals_["AutoPublishAlias"] == "live"  # SnapStart applies to published versions only
    # Old versions (each with a billed snapshot when SnapStart is on) are deleted, not retained.
    assert globals_["VersionDeletionPolicy"] == "Delete"


# --- access: auth type, client keys, CORS ---------------------------------------------------------------


def test_stream_auth_type_is_a_parameter_the_app_is_told_about(template: Any) -> None:
    param = template["Parameters"]["StreamAuthType"]
    assert param["Default"] == "NONE" and param["AllowedValues"] == ["NONE", "AWS_IAM"]
    assert template["Resources"]["StreamFunctionUrl"]["Properties"]["AuthType"] == {"Ref": "StreamAuthType"}
    assert template["Conditions"]["StreamIam"] == {"Fn::Equals": [{"Ref": "StreamAuthType"}, "AWS_IAM"]}
    for name in ("StreamFunctionUrlPublicPermissions", "StreamFunctionURLInvokeAllowPublicAccess"):
        assert template["Resources"][name]["Condition"] == "StreamPublic"
    env = function(template, "StreamFunction")["Environment"]["Variables"]
    assert env["LAMBDAGATE_AUTH"] == {"Fn::If": ["StreamIam", "iam", "key"]}
    for name in API_FUNCTION_IDS:  # the HTTP API has no IAM authorizer: its functions keep Bearer keys
        assert "LAMBDAGATE_AUTH" not in function(template, name)["Environment"]["Variables"]


def test_legacy_keys_and_cors_reach_every_function(template: Any) -> None:
    assert template["Parameters"]["AcceptLegacyKeys"]["Default"] == "true"
    assert template["Parameters"]["CorsAllowedOrigins"]["Default"] == ""
    pattern = re.compile(template["Parameters"]["CorsAllowedOrigins"]["AllowedPattern"])
    for good in ("", "*", "https://chat.example.com", "https://a.example.com,http://localhost:5173"):
        assert pattern.fullmatch(good), good
    for bad in ("https://a.example.com, http://b", "chat.example.com", "https://a/,"):
        assert not pattern.fullmatch(bad), bad
    for name in FUNCTION_IDS:
        env = function(template, name)["Environment"]["Variables"]
        assert env["LAMBDAGATE_LEGACY_KEYS"] == {"Fn::If": ["LegacyKeysOn", "on", "off"]}
        assert env["LAMBDAGATE_CORS"] == "platform"  # the URLs answer CORS; the app stays out (no double headers)
    url_cors = template["Resources"]["StreamFunctionUrl"]["Properties"]["Cors"]["Fn::If"]
    api_cors = template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"]["Fn::If"]
    for cors in (url_cors, api_cors):
        assert cors[0] == "CorsOn" and cors[2] == {"Ref": "AWS::NoValue"}
        assert cors[1]["AllowOrigins"] == {"Fn::Split": [",", {"Ref": "CorsAllowedOrigins"}]}
        assert cors[1]["AllowHeaders"][0] == "authorization"  # named: "*" does not cover it
        assert "x-request-id" in cors[1]["ExposeHeaders"]
    assert url_cors[1]["AllowHeaders"] == api_cors[1]["AllowHeaders"]


# --- limits ---------------------------------------------------------------------------------------------


def test_concurrency_and_throttling_defaults_protect_the_account(template: Any) -> None:
    params = template["Parameters"]
    reserved = {name: params[name.replace("Function", "Concurrency")]["Default"] for name in FUNCTION_IDS}
    assert all(value > 0 for value in reserved.values())
    # The account's default pool is 1,000 and Lambda keeps 100 unreserved: the defaults leave most of it.
    assert sum(reserved.values()) <= 300
    for name in FUNCTION_IDS:
        parameter = name.replace("Function", "Concurrency")
        condition = name.replace("Function", "Reserved")
        assert params[parameter]["MinValue"] == -1  # -1: no reservation (accounts with a small quota)
        assert template["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, -1]}]}
        assert template["Resources"][name]["Properties"]["ReservedConcurrentExecutions"] == {
            "Fn::If": [condition, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]}
    assert 0 < params["ApiRateLimit"]["Default"] <= params["ApiBurstLimit"]["Default"] <= 1000
    assert template["Resources"]["HttpApi"]["Properties"]["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ApiRateLimit"}, "ThrottlingBurstLimit": {"Ref": "ApiBurstLimit"}}


def test_function_code_is_one_thin_module_each(template: Any) -> None:
    makefile = (ROOT / "functions" / "Makefile").read_text()
    for name in FUNCTION_IDS:
        resource = template["Resources"][name]
        assert resource["Properties"]["CodeUri"] == "functions"
        assert resource["Metadata"] == {"BuildMethod": "makefile"}
        assert re.search(rf"^build-{name}:", makefile, re.M)
    for folder in ("chat", "completions", "embeddings", "messages", "models", "responses"):
        source = (ROOT / "functions" / folder / "app.py").read_text()
        assert "handler = api_handler(endpoints=[" in source
    run_sh = ROOT / "functions" / "stream" / "run.sh"
    assert run_sh.stat().st_mode & 0o111, "run.sh must be executable"
    assert "uvicorn app:app" in run_sh.read_text() and '"${PORT:-8080}"' in run_sh.read_text()


# --- the layer ---------------------------------------------------------------------------------


def test_layer_is_built_by_makefile_for_arm64_cp313(template: Any) -> None:
    layer = template["Resources"]["LambdagateLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/lambdagate"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    makefile = (ROOT / "layers" / "lambdagate" / "Makefile").read_text()
    assert re.search(r"^build-LambdagateLayer:", makefile, re.M)
    for flag in ("--platform manylinux2014_aarch64", "--python-version 3.13", "--implementation cp",
                 "--only-binary=:all:", '--target "$(ARTIFACTS_DIR)/python"', "-r requirements.txt"):
        assert flag in makefile


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_layer_requirements_cover_runtime_dependencies_and_nothing_else() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lines = (ROOT / "layers" / "lambdagate" / "requirements.txt").read_text().splitlines()
    pinned = {_name(line): line.split("==")[1] for line in lines if line and not line.startswith("#")}
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", version) for version in pinned.values())
    runtime = {_name(dependency) for dependency in pyproject["project"]["dependencies"]}
    assert runtime <= set(pinned), f"not in the layer: {runtime - set(pinned)}"
    assert not set(pinned) & TOOLING  # boto3/botocore come with the runtime; no test or build tools


# --- IAM -------------------------------------------------------------------------------------------


def test_iam_is_least_privilege(template: Any) -> None:
    found = statements(template)
    granted = {action for _, statement, _ in found for action in as_list(statement["Action"])}
    assert granted == {"logs:CreateLogStream", "logs:PutLogEvents", "ssm:GetParameter", "ssm:GetParameters",
                       "ssm:GetParametersByPath", "kms:Decrypt", "bedrock:InvokeModel",
                       "bedrock:InvokeModelWithResponseStream", "bedrock:CountTokens", "bedrock:ApplyGuardrail",
                       "dynamodb:UpdateItem", "dynamodb:GetItem"}  # the limits table (test_limits_template.py)
    for _, statement, condition in found:
        assert statement["Effect"] == "Allow"
        assert "*" not in as_list(statement["Resource"]), statement
        actions = as_list(statement["Action"])
        if actions[0].startswith("ssm:"):
            assert [r["Fn::Sub"] for r in statement["Resource"]] == [
                "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ConfigPrefix}",
                "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ConfigPrefix}/*"]
        elif actions == ["kms:Decrypt"]:
            via_ssm = {"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"}
            assert statement["Condition"] == {"StringEquals": {"kms:ViaService": via_ssm}}
        elif actions == ["bedrock:ApplyGuardrail"]:
            # guardrail_config needs it (Bedrock user guide, "Set up permissions to use guardrails"):
            # the account's guardrails, and their profiles for cross-Region guardrails.
            assert condition == "BedrockOn"
            assert [r["Fn::Sub"] for r in statement["Resource"]] == [
                "arn:${AWS::Partition}:bedrock:*:${AWS::AccountId}:guardrail/*",
                "arn:${AWS::Partition}:bedrock:*:${AWS::AccountId}:guardrail-profile/*"]
        elif actions[0].startswith("bedrock:"):
            assert condition == "BedrockOn"  # only when EnableBedrock is true
        elif actions[0].startswith("dynamodb:"):
            assert statement["Resource"] == {"Fn::GetAtt": ["LimitsTable", "Arn"]}
        else:
            assert actions[0].startswith("logs:")
            assert statement["Resource"] == [{"Fn::GetAtt": [f"{n}LogGroup", "Arn"]}
                                             for n in ("Chat", "Completions", "Embeddings", "Models", "Responses",
                                                       "Messages", "Stream")]
        if not actions[0].startswith("bedrock:"):
            assert condition is None
    assert template["Parameters"]["EnableBedrock"]["Default"] == "false"
    assert template["Resources"]["FunctionRole"]["Properties"].get("ManagedPolicyArns") is None
    for name in FUNCTION_IDS:
        assert "Policies" not in template["Resources"][name]["Properties"]
    for group in resources(template, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


# --- dashboard and outputs ---------------------------------------------------------------------------


def test_dashboard_shows_every_emitted_metric_per_model_and_provider(template: Any) -> None:
    body, variables = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    rendered = re.sub(r"\$\{[^}]+\}", "X", body)
    document = json.loads(rendered)
    expressions = json.dumps(document)
    for metric in (emitted.REQUESTS, emitted.ERRORS_BY_TYPE, emitted.LATENCY, emitted.TIME_TO_FIRST_TOKEN,
                   emitted.PROMPT_TOKENS, emitted.COMPLETION_TOKENS):
        assert f'MetricName=\\"{metric}\\"' in expressions, metric
    assert variables["Dims"] == {"Fn::Sub": "{${MetricsNamespace},model,provider,service}"}
    assert variables["ErrorDims"] == {"Fn::Sub": "{${MetricsNamespace},error_type,model,provider,service}"}


def test_outputs(template: Any) -> None:
    outputs = template["Outputs"]
    assert outputs["ApiUrl"]["Value"]["Fn::Sub"].endswith(".${AWS::URLSuffix}/v1")
    assert outputs["StreamUrl"]["Value"]["Fn::Sub"] == ["${Url}v1", {"Url": {"Fn::GetAtt": ["StreamFunctionUrl",
                                                                                             "FunctionUrl"]}}]
    for name in FUNCTION_IDS:
        assert outputs[f"{name}Name"]["Value"] == {"Ref": name}
    params = template["Parameters"]
    assert params["ConfigPrefix"]["Default"] == "/lambdagate"
    assert set(params) >= {"ConfigPrefix", "LogLevel", "LwaLayerVersion", "LwaLayerArn", "MemorySize",
                           "EnableSnapStart", "EnableBedrock", "StreamAuthType", "AcceptLegacyKeys",
                           "CorsAllowedOrigins", "ChatConcurrency", "CompletionsConcurrency", "ModelsConcurrency",
                           "StreamConcurrency", "ApiRateLimit", "ApiBurstLimit"}
    grouped = [name for group in template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
               for name in group["Parameters"]]
    assert sorted(grouped) == sorted(params)  # `sam deploy --guided` and the console show every one


# --- events -------------------------------------------------------------------------------------------


def test_events_use_the_documented_dev_key_and_mock_model() -> None:
    example = yaml.safe_load((ROOT / "gateway.example.yaml").read_text())
    dev_hashes = {key["sha256"] for key in example["keys"]}
    files = sorted((ROOT / "events").glob("*.json"))
    assert {f.name.rsplit("-", 1)[1] for f in files} == {"rest.json", "http.json", "url.json"}
    assert {f.name.rsplit("-", 1)[0] for f in files} >= {"chat", "completions", "models-list", "models-retrieve"}
    for path in files:
        event = json.loads(path.read_text())
        headers = {k.lower(): v for k, v in event["headers"].items()}
        scheme, key = headers["authorization"].split(" ", 1)
        if "iam" in event["requestContext"].get("authorizer", {}):
            # A request signed for an AWS_IAM URL: SigV4 in Authorization, the verified caller in the context.
            assert scheme == "AWS4-HMAC-SHA256" and "/lambda/aws4_request" in key and headers["x-amz-date"]
            assert event["requestContext"]["authorizer"]["iam"]["userArn"].startswith("arn:aws:")
        else:
            assert scheme == "Bearer" and hashlib.sha256(key.encode()).hexdigest() in dev_hashes
        if event.get("body"):
            assert json.loads(event["body"])["model"] == "mock-gpt"
        if path.name.endswith("-rest.json"):
            assert "httpMethod" in event and event["requestContext"]["stage"]
        else:
            assert event["version"] == "2.0"
            domain = event["requestContext"]["domainName"]
            assert domain.endswith(".lambda-url.us-east-1.on.aws") == path.name.endswith("-url.json")
