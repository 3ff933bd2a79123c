// Command airgap is the one binary behind the collection's admin-side modules: the build
// links plugins/modules/<module>_linux_<arch> to plugins/bin/airgap_linux_<arch>, and the
// binary runs the module it is called as. By hand: `airgap offline_file_fetch --help`.
//
// `airgap rules` (questions on stdin, JSON lines out) gives the collection's Python side the
// rules that live in Go only: the files layout (fetch.PathFor) and image names in the private
// registry (imagename), so that each rule has one implementation.
package main

import (
	"fmt"
	"os"

	"github.com/airgap-kubespray/airgap.kubespray/modules/internal/module"
	bundleapplymod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_bundle_apply"
	bundledeltamod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_bundle_delta"
	bundleforecastmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_bundle_forecast"
	bundleimportmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_bundle_import"
	bundlepackmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_bundle_pack"
	bundlesumsmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_bundle_sums"
	bundleunpackmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_bundle_unpack"
	filefetch "github.com/airgap-kubespray/airgap.kubespray/modules/offline_file_fetch"
	imagepullmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_image_pull"
	imagepushmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_image_push"
	imagescanmod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_image_scan"
	sitestatemod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_site_state"
	verifymod "github.com/airgap-kubespray/airgap.kubespray/modules/offline_verify"
)

// modules are the modules this binary runs; every modules/offline_*/ package is one of them.
var modules = []*module.Module{
	bundleapplymod.Module,
	bundleforecastmod.Module,
	bundleimportmod.Module,
	bundlepackmod.Module,
	bundledeltamod.Module,
	bundlesumsmod.Module,
	bundleunpackmod.Module,
	filefetch.Module,
	imagepullmod.Module,
	imagepushmod.Module,
	imagescanmod.Module,
	sitestatemod.Module,
	verifymod.Module,
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == rulesCommand {
		if err := rules(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "airgap rules:", err)
			os.Exit(1)
		}
		return
	}
	module.MultiMain(modules...)
}
