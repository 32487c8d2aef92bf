package admission

import (
	"encoding/json"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// MaxReviewBytes bounds an AdmissionReview request body. The apiserver
// limits objects to 3 MiB (etcd's request limit is 1.5 MiB by default); an
// AdmissionReview of an UPDATE carries the object twice.
const MaxReviewBytes = 8 << 20

// MaxImages bounds the container images of one object that are verified:
// real pods have a handful; more is refused rather than verified slowly.
const MaxImages = 256

// imageRef is one container image in an object, with the JSON pointer to
// its "image" field (for /mutate's patch).
type imageRef struct {
	image string
	path  string
}

// Resource kinds the webhook verifies.
var (
	kindPod         = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	kindDeployment  = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	kindReplicaSet  = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}
	kindStatefulSet = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}
	kindDaemonSet   = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}
	kindJob         = schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}
	kindCronJob     = schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}
)

// podSpecOf decodes raw (an object of kind gvk) and returns its pod spec
// and the JSON pointer of that spec in the object.
func podSpecOf(gvk schema.GroupVersionKind, raw []byte) (*corev1.PodSpec, string, error) {
	var (
		spec *corev1.PodSpec
		base string
		err  error
	)
	switch gvk {
	case kindPod:
		var o corev1.Pod
		err, spec, base = json.Unmarshal(raw, &o), &o.Spec, "/spec"
	case kindDeployment:
		var o appsv1.Deployment
		err, spec, base = json.Unmarshal(raw, &o), &o.Spec.Template.Spec, "/spec/template/spec"
	case kindReplicaSet:
		var o appsv1.ReplicaSet
		err, spec, base = json.Unmarshal(raw, &o), &o.Spec.Template.Spec, "/spec/template/spec"
	case kindStatefulSet:
		var o appsv1.StatefulSet
		err, spec, base = json.Unmarshal(raw, &o), &o.Spec.Template.Spec, "/spec/template/spec"
	case kindDaemonSet:
		var o appsv1.DaemonSet
		err, spec, base = json.Unmarshal(raw, &o), &o.Spec.Template.Spec, "/spec/template/spec"
	case kindJob:
		var o batchv1.Job
		err, spec, base = json.Unmarshal(raw, &o), &o.Spec.Template.Spec, "/spec/template/spec"
	case kindCronJob:
		var o batchv1.CronJob
		err, spec, base = json.Unmarshal(raw, &o), &o.Spec.JobTemplate.Spec.Template.Spec, "/spec/jobTemplate/spec/template/spec"
	default:
		return nil, "", fmt.Errorf("%w: kind %s is not one the webhook verifies (Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob)", ErrBadReview, gvkString(gvk))
	}
	if err != nil {
		return nil, "", fmt.Errorf("%w: decode %s: %v", ErrBadReview, gvk.Kind, err)
	}
	return spec, base, nil
}

func gvkString(gvk schema.GroupVersionKind) string {
	if gvk.Group == "" {
		return gvk.Version + "/" + gvk.Kind
	}
	return gvk.Group + "/" + gvk.Version + "/" + gvk.Kind
}

// imagesOf lists every container, init container and ephemeral container
// image of spec, with JSON pointers below base.
func imagesOf(spec *corev1.PodSpec, base string) []imageRef {
	var out []imageRef
	for i, c := range spec.InitContainers {
		out = append(out, imageRef{c.Image, base + "/initContainers/" + strconv.Itoa(i) + "/image"})
	}
	for i, c := range spec.Containers {
		out = append(out, imageRef{c.Image, base + "/containers/" + strconv.Itoa(i) + "/image"})
	}
	for i, c := range spec.EphemeralContainers {
		out = append(out, imageRef{c.Image, base + "/ephemeralContainers/" + strconv.Itoa(i) + "/image"})
	}
	return out
}

// patchOp is one RFC 6902 operation.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}
