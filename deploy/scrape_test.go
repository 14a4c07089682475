package deploy

import (
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor
// (monitoring.coreos.com/v1) that servicemonitor.yaml uses, with the
// operator's field names: decoding strictly into it catches a misspelt or
// misplaced field without importing the operator's module (and its
// dependencies) for one type. A field the file gains must be added here,
// as the operator's API reference spells it.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		JobLabel          string               `json:"jobLabel,omitempty"`
		TargetLabels      []string             `json:"targetLabels,omitempty"`
		PodTargetLabels   []string             `json:"podTargetLabels,omitempty"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []smEndpoint `json:"endpoints"`
	} `json:"spec"`
}

// smEndpoint is a ServiceMonitor's Endpoint (the fields used here and the
// common ones).
type smEndpoint struct {
	Port          string              `json:"port,omitempty"`
	TargetPort    *intstr.IntOrString `json:"targetPort,omitempty"`
	Path          string              `json:"path,omitempty"`
	Scheme        string              `json:"scheme,omitempty"`
	Interval      string              `json:"interval,omitempty"`
	ScrapeTimeout string              `json:"scrapeTimeout,omitempty"`
	HonorLabels   bool                `json:"honorLabels,omitempty"`
	Relabelings   []smRelabel         `json:"relabelings,omitempty"`
	MetricRelabel []smRelabel         `json:"metricRelabelings,omitempty"`
}

// smRelabel is the operator's RelabelConfig.
type smRelabel struct {
	SourceLabels []string `json:"sourceLabels,omitempty"`
	Separator    string   `json:"separator,omitempty"`
	TargetLabel  string   `json:"targetLabel,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	Modulus      uint64   `json:"modulus,omitempty"`
	Replacement  string   `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

// manifests decodes the three manifests strictly.
func manifests(t *testing.T) (*appsv1.DaemonSet, *corev1.Service, *serviceMonitor) {
	t.Helper()
	var ds appsv1.DaemonSet
	var svc corev1.Service
	var sm serviceMonitor
	decodeStrict(t, "daemonset.yaml", &ds)
	decodeStrict(t, "service.yaml", &svc)
	decodeStrict(t, "servicemonitor.yaml", &sm)
	return &ds, &svc, &sm
}

// selects reports whether every label of sel is in labels with its value.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestScrape checks that the three manifests lead a scrape to zmtpdump's
// /metrics: --metrics listens on the container's metrics port on every
// address (the kubelet's probe and Prometheus come from outside the pod),
// the readiness probe and the prometheus.io annotations ask that port and
// path, the Service selects the DaemonSet's pods and names that port, and
// the ServiceMonitor selects the Service in its namespace and scrapes that
// port and path.
func TestScrape(t *testing.T) {
	ds, svc, sm := manifests(t)
	c := ds.Spec.Template.Spec.Containers[0]

	// The metrics port, as the container declares it.
	i := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "metrics" })
	if i < 0 {
		t.Fatalf("no container port named metrics: %+v", c.Ports)
	}
	port := c.Ports[i]
	if port.ContainerPort != 9464 || (port.Protocol != "" && port.Protocol != corev1.ProtocolTCP) {
		t.Errorf("metrics port %+v, want 9464/TCP", port)
	}
	host, p, err := net.SplitHostPort(argValue(c.Args, "--metrics"))
	if err != nil {
		t.Fatalf("--metrics %q: %v", argValue(c.Args, "--metrics"), err)
	}
	// The node's IP only (the kubelet's probe and Prometheus come there),
	// not its other addresses: $(HOST_IP) from status.hostIP.
	if host != "$(HOST_IP)" {
		t.Errorf("--metrics listens on %q: want $(HOST_IP), the node's IP", host)
	}
	if i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "HOST_IP" }); i < 0 ||
		c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.FieldRef == nil || c.Env[i].ValueFrom.FieldRef.FieldPath != "status.hostIP" {
		t.Errorf("no env HOST_IP from the field status.hostIP: %+v", c.Env)
	}
	if p != strconv.Itoa(int(port.ContainerPort)) {
		t.Errorf("--metrics port %s, container port %d", p, port.ContainerPort)
	}

	// The readiness probe and the annotations.
	probe := c.ReadinessProbe
	if probe == nil || probe.HTTPGet == nil {
		t.Fatal("no readinessProbe httpGet")
	}
	if probe.HTTPGet.Path != "/metrics" {
		t.Errorf("readiness probe path %q, want /metrics", probe.HTTPGet.Path)
	}
	if pp := probe.HTTPGet.Port; pp.String() != "metrics" && pp.IntValue() != int(port.ContainerPort) {
		t.Errorf("readiness probe port %s, want metrics", pp.String())
	}
	ann := ds.Spec.Template.Annotations
	for k, want := range map[string]string{
		"prometheus.io/scrape": "true",
		"prometheus.io/port":   strconv.Itoa(int(port.ContainerPort)),
		"prometheus.io/path":   "/metrics",
	} {
		if ann[k] != want {
			t.Errorf("pod annotation %s = %q, want %q", k, ann[k], want)
		}
	}

	// The Service.
	if svc.APIVersion != "v1" || svc.Kind != "Service" {
		t.Errorf("service.yaml: apiVersion %q kind %q", svc.APIVersion, svc.Kind)
	}
	if svc.Namespace != ds.Namespace {
		t.Errorf("Service in %q, DaemonSet in %q", svc.Namespace, ds.Namespace)
	}
	if !selects(svc.Spec.Selector, ds.Spec.Template.Labels) {
		t.Errorf("the Service's selector %v does not select the DaemonSet's pods %v", svc.Spec.Selector, ds.Spec.Template.Labels)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("clusterIP %q: want None (headless: every pod is scraped, none is load-balanced)", svc.Spec.ClusterIP)
	}
	j := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "metrics" })
	if j < 0 {
		t.Fatalf("the Service has no port named metrics: %+v", svc.Spec.Ports)
	}
	sp := svc.Spec.Ports[j]
	if tp := sp.TargetPort; tp.String() != port.Name && tp.IntValue() != int(port.ContainerPort) {
		t.Errorf("the Service's targetPort %s is not the container's metrics port", tp.String())
	}

	// The ServiceMonitor.
	if sm.APIVersion != "monitoring.coreos.com/v1" || sm.Kind != "ServiceMonitor" || sm.Name == "" {
		t.Errorf("servicemonitor.yaml: apiVersion %q kind %q name %q", sm.APIVersion, sm.Kind, sm.Name)
	}
	if len(sm.Spec.Selector.MatchExpressions) != 0 || !selects(sm.Spec.Selector.MatchLabels, svc.Labels) {
		t.Errorf("the ServiceMonitor's selector %+v does not select the Service's labels %v", sm.Spec.Selector, svc.Labels)
	}
	ns := sm.Spec.NamespaceSelector
	if !ns.Any && !slices.Contains(ns.MatchNames, svc.Namespace) && sm.Namespace != svc.Namespace {
		t.Errorf("the ServiceMonitor looks in %v, the Service is in %q", ns.MatchNames, svc.Namespace)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("want one endpoint, got %d", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Port != sp.Name {
		t.Errorf("the ServiceMonitor scrapes port %q, the Service's is %q", ep.Port, sp.Name)
	}
	if ep.Path != "" && ep.Path != "/metrics" {
		t.Errorf("path %q, want /metrics", ep.Path)
	}
	if ep.Scheme != "" && ep.Scheme != "http" {
		t.Errorf("scheme %q: zmtpdump serves plain HTTP", ep.Scheme)
	}
	for _, r := range ep.Relabelings {
		for _, l := range r.SourceLabels {
			if !strings.HasPrefix(l, "__meta_kubernetes_") && !strings.HasPrefix(l, "__") {
				t.Errorf("relabeling from %q: only discovery labels exist before the scrape", l)
			}
		}
	}
}

// TestDockerfileScratch checks the image `make image` builds: one stage
// on scratch (nothing to pull), the binary copied from the build context
// (which holds only it: no RUN, scratch has no shell) and run as the
// entrypoint; and that the Makefile builds it from that context.
func TestDockerfileScratch(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile.scratch")
	if err != nil {
		t.Fatal(err)
	}
	var from, copies []string
	var entry string
	for _, line := range strings.Split(string(raw), "\n") {
		word, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(word) {
		case "FROM":
			from = append(from, rest)
		case "COPY", "ADD":
			copies = append(copies, word+" "+rest)
		case "RUN":
			t.Errorf("RUN %s: scratch has no shell", rest)
		case "ENTRYPOINT":
			entry = rest
		}
	}
	if !slices.Equal(from, []string{"scratch"}) {
		t.Errorf("FROM %q, want scratch alone", from)
	}
	if !slices.Equal(copies, []string{"COPY zmtpdump /zmtpdump"}) {
		t.Errorf("%q, want COPY zmtpdump /zmtpdump alone", copies)
	}
	if entry != `["/zmtpdump"]` {
		t.Errorf("ENTRYPOINT %s", entry)
	}

	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	_, recipe, ok := strings.Cut(string(mk), "\nimage: zmtpdump\n")
	if !ok {
		t.Fatal("the Makefile has no target image: zmtpdump")
	}
	recipe, _, _ = strings.Cut(recipe, "\n\n")
	if !strings.Contains(recipe, "build ") || !strings.Contains(recipe, "-f deploy/Dockerfile.scratch") || !strings.HasSuffix(strings.TrimSpace(recipe), " build/image") {
		t.Errorf("make image does not build deploy/Dockerfile.scratch from build/image:\n%s", recipe)
	}
	if !strings.Contains(recipe, "cp zmtpdump build/image/") || !strings.Contains(recipe, "rm -rf build/image") {
		t.Errorf("make image does not make build/image hold the binary alone:\n%s", recipe)
	}
}
