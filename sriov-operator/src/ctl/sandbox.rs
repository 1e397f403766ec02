//! `sriovctl sandbox`: the in-memory API server (`kube-sandbox`) with this project's CRDs
//! installed, optional manifests applied, served until SIGINT or SIGTERM.

use std::net::SocketAddr;

use super::*;
use input::collect_inputs;

/// The namespace the operator's objects live in, created up front.
const OPERATOR_NAMESPACE: &str = DEFAULT_NAMESPACE;

/// Objects that others depend on (namespaces, CRDs) go first; the rest keep their order.
fn install_order(value: &serde_json::Value) -> u8 {
    match value.get("kind").and_then(serde_json::Value::as_str) {
        Some("Namespace") => 0,
        Some("CustomResourceDefinition") => 1,
        _ => 2,
    }
}

fn describe(value: &serde_json::Value) -> String {
    let kind = value
        .get("kind")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("<no kind>");
    let name = value
        .pointer("/metadata/name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("<no name>");
    match value
        .pointer("/metadata/namespace")
        .and_then(serde_json::Value::as_str)
    {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// `sriovctl sandbox`'s arguments.
#[derive(Debug, clap::Args)]
pub(super) struct Options {
    /// Address to listen on, HOST:PORT (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0", value_parser = parse_address)]
    listen: SocketAddr,
    /// Allow a non-loopback --listen address: anyone who can reach it controls the
    /// sandbox.
    #[arg(long)]
    insecure_allow_remote: bool,
    /// Where to write the kubeconfig (default: the temp dir, named after the port).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Files or directories of YAML/JSON manifests to create at start; `-` reads
    /// standard input.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    files: Vec<PathBuf>,
    /// How many events the watch history keeps.
    #[arg(long, default_value_t = 10_000)]
    history: usize,
    /// Run without the stand-ins for a cluster's controllers and kubelets (garbage
    /// collection, namespace clean-up, pod deletion, PDB status), like a bare
    /// kube-apiserver.
    #[arg(long)]
    bare: bool,
    /// Where admission webhooks that name a Service are called, as
    /// NAMESPACE/NAME[:PORT]=HOST:PORT (the Service port defaults to 443; the webhook's
    /// certificate must name NAME.NAMESPACE.svc). Repeatable.
    #[arg(long = "route-service", value_name = "SERVICE=ADDRESS", value_parser = parse_route)]
    routes: Vec<Route>,
}

/// One `--route-service` value.
#[derive(Debug, Clone)]
pub(super) struct Route {
    namespace: String,
    name: String,
    port: u16,
    address: SocketAddr,
}

/// HOST:PORT, the host an IP address or a name (`localhost`).
fn parse_address(text: &str) -> Result<SocketAddr, String> {
    if let Ok(address) = text.parse() {
        return Ok(address);
    }
    std::net::ToSocketAddrs::to_socket_addrs(text)
        .map_err(|e| format!("{text:?}: not HOST:PORT: {e}"))?
        .next()
        .ok_or_else(|| format!("{text:?}: the name has no address"))
}

fn parse_route(text: &str) -> Result<Route, String> {
    let (service, address) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected NAMESPACE/NAME[:PORT]=HOST:PORT"))?;
    let address = parse_address(address)?;
    let (service, port) = match service.rsplit_once(':') {
        Some((service, port)) => (
            service,
            port.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("{port:?}: not a port"))?,
        ),
        None => (service, 443),
    };
    let (namespace, name) = service
        .split_once('/')
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| format!("{service:?}: expected NAMESPACE/NAME"))?;
    for (what, value) in [("namespace", namespace), ("service name", name)] {
        if let Some(reason) = kube_sandbox::meta::label_error(value) {
            return Err(format!("{what} {value:?}: {reason}"));
        }
    }
    Ok(Route {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        port,
        address,
    })
}

/// Runs the sandbox; returns when a signal arrives (0) or it cannot start (1 or 2).
pub(super) fn sandbox(
    options: Options,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Status {
    let Options {
        listen,
        insecure_allow_remote,
        kubeconfig,
        files,
        history,
        bare,
        routes,
    } = options;
    if !listen.ip().is_loopback() && !insecure_allow_remote {
        let _ = writeln!(
            err,
            "error: refusing to listen on {listen}: the sandbox has no authentication, so anyone who can reach it controls it; pass --insecure-allow-remote to do it anyway"
        );
        return Status::Unreadable;
    }
    let sandbox = kube_sandbox::Sandbox::new(kube_sandbox::Config {
        history,
        controllers: !bare,
    });
    for (i, route) in routes.iter().enumerate() {
        let same = |r: &&Route| {
            (&r.namespace, &r.name, r.port) == (&route.namespace, &route.name, route.port)
        };
        if routes[..i].iter().any(|r| same(&r)) {
            let _ = writeln!(
                err,
                "error: --route-service {}/{}:{} is given twice",
                route.namespace, route.name, route.port
            );
            return Status::Unreadable;
        }
        sandbox.route_service(&route.namespace, &route.name, route.port, route.address);
    }
    let mut crds: Vec<serde_json::Value> = Vec::new();
    for crd in sriov_core::crd::operator_crds()
        .into_iter()
        .chain([sriov_core::crd::network_attachment_definition_crd()])
    {
        match serde_json::to_value(&crd) {
            Ok(value) => crds.push(value),
            Err(e) => {
                let _ = writeln!(err, "error: serializing the CRDs: {e}");
                return Status::Unreadable;
            }
        }
    }
    let namespace = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OPERATOR_NAMESPACE}});
    for object in crds.iter().chain([&namespace]) {
        if let Err(e) = sandbox.create(object) {
            let _ = writeln!(err, "error: installing {}: {}", describe(object), e.message);
            return Status::Unreadable;
        }
    }
    let (inputs, status) = collect_inputs(&files, stdin, err);
    if status != Status::Ok {
        return status;
    }
    let mut objects: Vec<(String, serde_json::Value)> = Vec::new();
    for input in &inputs {
        match sriov_core::manifest::read_values(&input.text) {
            Ok(values) => objects.extend(values.into_iter().map(|v| (input.name.clone(), v))),
            Err(e) => {
                let _ = writeln!(
                    err,
                    "error: {}: {e}",
                    input::at(&input.name, e.location(), None)
                );
                return Status::Unreadable;
            }
        }
    }
    objects.sort_by_key(|(_, v)| install_order(v));
    for (file, object) in &objects {
        if let Err(e) = sandbox.create(object) {
            let _ = writeln!(err, "error: {file}: {}: {}", describe(object), e.message);
            return Status::Rejected;
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = writeln!(err, "error: starting the runtime: {e}");
            return Status::Unreadable;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(e) => {
                let _ = writeln!(err, "error: listening on {listen}: {e}");
                return Status::Unreadable;
            }
        };
        let bound = match listener.local_addr() {
            Ok(address) => address,
            Err(e) => {
                let _ = writeln!(err, "error: listening on {listen}: {e}");
                return Status::Unreadable;
            }
        };
        let url = format!("http://{bound}");
        // A kubeconfig the sandbox chose the place of is removed when it stops.
        let chosen = kubeconfig.is_none();
        let path = kubeconfig.unwrap_or_else(|| {
            std::env::temp_dir().join(format!("sriov-sandbox-{}.kubeconfig", bound.port()))
        });
        if let Err(e) = kube_sandbox::kubeconfig(&path, &url) {
            let _ = writeln!(err, "error: writing {}: {e}", path.display());
            return Status::Unreadable;
        }
        // The signal handlers are in place before anyone is told the sandbox is ready, so a
        // SIGTERM sent right after the ready line is a clean stop.
        let shutdown = sriov_hw::process::shutdown_signal();
        let _ = writeln!(out, "sandbox ready: {url} kubeconfig={}", path.display());
        let _ = out.flush();
        let served = sandbox.serve_on(listener, shutdown).await;
        if chosen {
            let _ = std::fs::remove_file(&path);
        }
        match served {
            Ok(()) => Status::Ok,
            Err(e) => {
                let _ = writeln!(err, "error: serving: {e}");
                Status::Unreadable
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_read_namespace_name_port_and_address() {
        let route =
            parse_route("sriov-network-operator/operator-webhook-service=127.0.0.1:9443").unwrap();
        assert_eq!(
            (route.namespace.as_str(), route.name.as_str(), route.port),
            ("sriov-network-operator", "operator-webhook-service", 443)
        );
        assert_eq!(route.address, "127.0.0.1:9443".parse().unwrap());
        assert_eq!(parse_route("ns/svc:8443=127.0.0.1:1").unwrap().port, 8443);
        for bad in [
            "ns/svc",
            "svc=127.0.0.1:1",
            "ns/svc=localhost",
            "ns/svc:0=127.0.0.1:1",
            "/svc=127.0.0.1:1",
        ] {
            assert!(parse_route(bad).is_err(), "{bad}");
        }
    }
}
