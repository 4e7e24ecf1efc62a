/*
Copyright 2026 The csms-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package v1alpha1 contains the API of csms-operator: ManagedSecret, ProviderConfig and
// ClusterProviderConfig in the group secrets.csms-operator.io.
//
// Every constraint of the CSMS API that can be stated in a schema is a kubebuilder marker or a
// CEL rule here, so that bad input is rejected at `kubectl apply` time with a message that names
// the field, instead of failing later in the cloud.
// +kubebuilder:object:generate=true
// +groupName=secrets.csms-operator.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is group version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "secrets.csms-operator.io", Version: "v1alpha1"}

	// SchemeBuilder adds the types of this group-version to a scheme. It is the apimachinery
	// builder rather than controller-runtime's (deprecated) one, so that importing the API
	// does not pull in controller-runtime.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types in this group-version to the given scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// knownTypes is filled by the init functions of the *_types.go files.
var knownTypes []runtime.Object

// register records root types (object and list) for addKnownTypes.
func register(objs ...runtime.Object) {
	knownTypes = append(knownTypes, objs...)
}

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, knownTypes...)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
