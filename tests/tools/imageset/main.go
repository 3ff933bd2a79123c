// Command imageset generates a synthetic Kubespray-like image set: it pushes the images to a
// registry on loopback and writes the bundles kubespray-offline and Kubespray's contrib/offline
// make. See README.md.
//
//	go run ./tests/tools/imageset --registry 127.0.0.1:5001 --out /tmp/set --scale 0.02
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/airgap-kubespray/airgap.kubespray/tests/tools/imageset/internal/imageset"
)

func main() { os.Exit(run()) }

func run() int {
	var o imageset.Options
	var names, creds string
	fs := pflag.NewFlagSet("imageset", pflag.ContinueOnError)
	fs.StringVar(&o.Registry, "registry", "", "push to this registry, host:port[/prefix] (plain HTTP unless --tls-ca)")
	fs.StringVar(&o.Push.TLSCA, "tls-ca", "", "CA file (PEM) of the registry: push over HTTPS")
	fs.StringVar(&creds, "creds", "", "USER:PASSWORD for the registry")
	fs.IntVar(&o.Push.Jobs, "push-jobs", 3, "images pushed at once")
	fs.StringVar(&o.Out, "out", "", "write images.list, imageset.json and the bundles into this folder")
	fs.Float64Var(&o.Scale, "scale", 1, "layer size multiplier (1: about 1.2 GB of compressed layers)")
	fs.Int64Var(&o.Seed, "seed", 1, "content seed")
	fs.StringVar(&names, "names", "", "file of image references, one a line (default: a built-in Kubespray-like list)")
	fs.StringSliceVar(&o.Platforms, "platforms", []string{"linux/amd64"}, "platforms; several make an index per image")
	fs.StringVar(&o.CacheDir, "cache", "", "keep generated layers in this folder and reuse them (default: a temporary folder)")
	fs.IntVar(&o.Jobs, "jobs", 0, "layers generated and bundles written at once (default: number of CPUs)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == pflag.ErrHelp {
			return 0
		}
		return 2
	}
	if o.Registry == "" && o.Out == "" {
		fmt.Fprintln(os.Stderr, "imageset: nothing to do: give --registry and/or --out")
		return 2
	}
	if creds != "" {
		user, pass, ok := strings.Cut(creds, ":")
		if !ok {
			fmt.Fprintln(os.Stderr, "imageset: --creds wants USER:PASSWORD")
			return 2
		}
		o.Push.Username, o.Push.Password = user, pass
	}
	if names != "" {
		f, err := os.Open(names)
		if err != nil {
			fmt.Fprintf(os.Stderr, "imageset: %v\n", err)
			return 1
		}
		o.Names, err = imageset.ReadNames(f)
		_ = f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "imageset: %s: %v\n", names, err)
			return 1
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := imageset.Generate(ctx, o)
	if sum != nil {
		fmt.Fprint(os.Stderr, sum)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "imageset: %v\n", err)
		return 1
	}
	return 0
}
