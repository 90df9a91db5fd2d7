//go:build tools

// Package tools keeps the two commands built by scripts/install-kube.sh, and everything
// they import, in go.mod and go.sum. It is never compiled.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
