//! IKE control plane (IKEv2, IKEv1): not yet implemented; see issues 4 and 5.
