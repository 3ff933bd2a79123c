// Command offline_repo_config is the offline_repo_config module on its own: it runs on every
// node, so it is kept out of the bigger multi-call binary (no HTTP, TLS or registry code).
package main

import (
	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	repoconfigmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_repo_config"
)

func main() { module.Main(repoconfigmod.Module) }
