// Package deploy holds what runs zmtpdump on Kubernetes: the container
// image (Dockerfile) and a DaemonSet (daemonset.yaml). It has no code; its
// test checks the manifests against the Kubernetes API types.
//
// Imports: nothing of ours.
package deploy
