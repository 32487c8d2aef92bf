package admission

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// InformerNamespaces answers namespace labels from a namespace informer
// (a watch kept in memory), asking the API server directly for a namespace
// the informer has not seen yet (one created a moment ago). It needs get,
// list and watch on namespaces.
type InformerNamespaces struct {
	client kubernetes.Interface
	lister corelisters.NamespaceLister
}

var _ NamespaceLabels = (*InformerNamespaces)(nil)

// NewInformerNamespaces starts the informer, which runs until ctx ends, and
// waits until it has listed the namespaces once (or syncCtx ends).
func NewInformerNamespaces(ctx, syncCtx context.Context, client kubernetes.Interface) (*InformerNamespaces, error) {
	f := informers.NewSharedInformerFactory(client, 0)
	inf := f.Core().V1().Namespaces()
	lister := inf.Lister()
	inf.Informer() // register before Start
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(syncCtx.Done(), inf.Informer().HasSynced) {
		return nil, fmt.Errorf("list namespaces: the informer did not sync: %w", context.Cause(syncCtx))
	}
	return &InformerNamespaces{client: client, lister: lister}, nil
}

// Labels implements NamespaceLabels.
func (n *InformerNamespaces) Labels(ctx context.Context, namespace string) (map[string]string, error) {
	ns, err := n.lister.Get(namespace)
	if err == nil {
		return ns.Labels, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	got, err := n.client.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return got.Labels, nil
}
