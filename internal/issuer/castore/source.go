package castore

import (
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// readyBuffer bounds the queued notices of CAs that became ready.
const readyBuffer = 256

// ReadySource returns a controller source that sends the signer name of
// every CA put into s to mapFunc, so that a signer controller looks again
// at the requests that waited for that CA.
func (s *Store) ReadySource(mapFunc handler.TypedMapFunc[string, reconcile.Request]) source.Source {
	ready := make(chan event.TypedGenericEvent[string], readyBuffer)
	s.OnPut(func(signerName string) {
		select {
		case ready <- event.TypedGenericEvent[string]{Object: signerName}:
		default:
			// The queue is full of wake-ups already, and the waiting
			// requests are retried after NotReadyRetry anyway.
		}
	})
	return source.Channel(ready, handler.TypedEnqueueRequestsFromMapFunc(mapFunc))
}
