// Package deploy holds what runs zmtpdump on Kubernetes: the container
// images (Dockerfile.scratch, which `make image` builds with no registry,
// and the registry-based multi-stage Dockerfile), a DaemonSet
// (daemonset.yaml) and the scrape configuration of its metrics: a headless
// Service (service.yaml) and a Prometheus Operator ServiceMonitor
// (servicemonitor.yaml). It has no code; its tests decode the manifests
// strictly into the Kubernetes API types (the ServiceMonitor into a local
// copy of the operator's type) and check that they fit together.
// e2e/docker_test.go runs the image with the DaemonSet's securityContext.
//
// Imports: nothing of ours.
package deploy
