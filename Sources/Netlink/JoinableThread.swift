import Foundation

/// A new thread that runs one closure, and waits for its result on `join()`.
///
/// A new thread, not a pooled one: it starts in the network namespace of the thread that creates it, and a pooled
/// thread could have joined another. It gets the main thread's stack size, because the ruleset decoder's recursion
/// depth is the one it was written for. Used by the collector's firewall read and the reader's dump workers.
package final class JoinableThread<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private var value: Value?

    package init(_ body: @escaping @Sendable () -> Value) {
        let thread = Thread { [self] in
            let result = body()
            lock.withLock { value = result }
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// The closure's result, once it has returned (nil only if the thread ended without returning).
    package func join() -> Value? {
        done.wait()
        return lock.withLock { value }
    }
}
