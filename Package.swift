// swift-tools-version:6.1
import PackageDescription

/// One settings array for every target (STYLE.md rule 1).
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Bastion",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bastiond", targets: ["bastiond"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // System libraries (Debian -dev packages; see README "Requirements").
        .systemLibrary(name: "CLibSSH", pkgConfig: "libssh", providers: [.apt(["libssh-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CQREncode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // Header only (p11-kit's pkcs11.h): the HSM vendor's module is loaded with dlopen.
        .systemLibrary(name: "CPKCS11", providers: [.apt(["libp11-kit-dev"])]),

        .target(name: "BastionCrypto", dependencies: ["COpenSSL"], swiftSettings: swiftSettings),
        .target(name: "BastionCore", dependencies: ["BastionCrypto"], swiftSettings: swiftSettings),
        .target(name: "BastionPKCS11", dependencies: ["CPKCS11"], swiftSettings: swiftSettings),
        .target(
            name: "BastionStore",
            dependencies: ["BastionCore", "BastionCrypto", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        .target(name: "BastionPostgres", dependencies: ["BastionCore", "BastionCrypto", "CLibPQ"], swiftSettings: swiftSettings),
        .target(
            name: "BastionSSH",
            dependencies: ["BastionCore", "BastionCrypto", "CLibSSH", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BastionHTTP",
            dependencies: [
                "BastionCore", "BastionCrypto",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BastionDelivery",
            dependencies: [
                "BastionCore", "BastionSIEM",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BastionApp",
            dependencies: [
                "BastionCore", "BastionCrypto", "BastionStore", "BastionPostgres", "BastionSSH", "BastionHTTP", "BastionSIEM", "BastionDelivery",
                "BastionPKCS11", "CQREncode",
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bastiond",
            dependencies: [
                "BastionApp", "BastionCore", "BastionCrypto", "BastionSSH", "BastionStore", "BastionPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BastionSIEM",
            dependencies: ["BastionCore", "COpenSSL"],
            swiftSettings: swiftSettings
        ),
        .target(name: "BastionTesting", dependencies: ["BastionCore"], swiftSettings: swiftSettings),

        .testTarget(name: "BastionCoreTests", dependencies: ["BastionCore", "BastionCrypto", "BastionTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "BastionStoreTests", dependencies: ["BastionStore", "BastionPostgres", "BastionCore", "BastionCrypto", "BastionTesting"], swiftSettings: swiftSettings),
        .testTarget(
            name: "BastionHTTPTests",
            dependencies: [
                "BastionHTTP", "BastionCore", "BastionCrypto", "BastionStore", "BastionTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BastionDeliveryTests",
            dependencies: ["BastionDelivery", "BastionCore", "BastionCrypto", "BastionStore", "BastionPostgres", "BastionTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "BastionPKCS11Tests", dependencies: ["BastionPKCS11", "CPKCS11"], swiftSettings: swiftSettings),
        .testTarget(name: "BastionSSHTests", dependencies: ["BastionSSH", "BastionCore"], swiftSettings: swiftSettings),
        .testTarget(name: "BastionSIEMTests", dependencies: ["BastionSIEM", "BastionCore", "BastionTesting"], swiftSettings: swiftSettings),
        .testTarget(
            name: "BastionAppTests",
            dependencies: [
                "BastionApp", "BastionCore", "BastionCrypto", "BastionSSH", "BastionTesting", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "BastionApp", "BastionCore", "BastionCrypto", "BastionStore", "BastionSSH", "BastionTesting", "CLibSSH",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bastion-bench",
            dependencies: [
                "BastionApp", "BastionCore", "BastionCrypto", "BastionDelivery", "BastionPKCS11", "BastionPostgres", "BastionSIEM", "BastionStore",
                "BastionTesting",
            ],
            path: "Benchmarks/bastion-bench",
            swiftSettings: swiftSettings
        ),
        // libssh alone relaying a session, for the benchmark's per-session CPU floor.
        .executableTarget(
            name: "libssh-floor",
            dependencies: ["CLibSSH"],
            path: "Benchmarks/libssh-floor",
            swiftSettings: swiftSettings
        ),
    ]
)
