# The code cells of the seed's S3-only quick start guide
# (examples/s3-only-backend-quickstart.txt, cells In [1] to In [17]), verbatim and in order;
# only these comment lines and the "# ---- In [N] ----" markers are added.
# tests/test_seed_quickstart.py runs it as a user following the guide would (in process,
# under moto.mock_aws(), which the second cell starts); tests/cli/test_readme.py checks
# that every cell is verbatim.
# ruff: noqa  (the seed's code, kept as it is)

# ---- In [1] ----
from versioned.api import s3_only_backend

Artifact = s3_only_backend.Alias
Alias = s3_only_backend.Alias
Repository = s3_only_backend.Repository

# ---- In [2] ----
import moto
from boto_session_manager import BotoSesManager

# Start mocking AWS services
mock_aws = moto.mock_aws()
mock_aws.start()

# Configure AWS session (mocked)
bsm = BotoSesManager(region_name="us-east-1")
print(f"{bsm.aws_account_id = }")

# ---- In [3] ----
# Use a simple bucket name
bucket = "mybucket"

# Create repository for binary artifacts
repo = s3_only_backend.Repository(
    aws_region=bsm.aws_region,
    s3_bucket=bucket,
    s3_prefix="artifacts",
    suffix=".bin"  # All artifacts will have .bin extension
)

# Initialize S3 bucket
repo.bootstrap(bsm=bsm)

print("✅ Repository initialized successfully!")

# ---- In [4] ----
# Create binary content (could be any binary data)
def create_binary_content(version_tag: str) -> bytes:
    """Create sample binary content for demonstration"""
    content = f"Binary content for {version_tag} - timestamp: 2024-01-01"
    return content.encode('utf-8')

# Create initial binary content
artifact_name = "my_application"
content_v1 = create_binary_content("version 1.0")

print(f"📦 Created binary content: {len(content_v1)} bytes")
print(f"📋 Content preview: {content_v1[:50]}...")

# ---- In [5] ----
from rich import print as rprint

# Upload binary content as LATEST version
artifact = repo.put_artifact(
    bsm=bsm, 
    name=artifact_name, 
    content=content_v1,
    content_type="application/octet-stream",
    metadata={
        "description": "Application binary with core functionality",
        "version": "1.0",
        "created_by": "dev_team"
    }
)

rprint(artifact)
print(f"🔗 View in S3: {artifact.s3path.console_url}")

# Verify we can download the content
downloaded_content = artifact.get_content(bsm=bsm)
print(f"✅ Successfully uploaded and verified ({len(downloaded_content)} bytes)")
print(f"📋 Downloaded content matches: {downloaded_content == content_v1}")

# ---- In [6] ----
# List all artifacts in the repository
artifact_names = repo.list_artifact_names(bsm=bsm)
print(f"📁 Artifacts in repository: {artifact_names}")

# Get detailed information about our artifact
artifact_info = repo.get_artifact_version(bsm=bsm, name=artifact_name)
rprint(artifact_info)

print(f"""
🏗️  S3 Folder Structure:
Repository Root: s3://{repo.s3_bucket}/{repo.s3_prefix}/

Your artifact structure:
{artifact_name}/
├── versions/
│   └── 000000_LATEST.bin          # ← Your current binary content
└── aliases/
    └── (no aliases yet)

The filename encoding ensures proper chronological sorting:
- 000000_LATEST.bin: Always appears first (development version)
- 999999_000001.bin: Version 1 (when published)
- 999998_000002.bin: Version 2 (when published)
- etc.
""")

# ---- In [7] ----
# Publish the LATEST version as version 1
print("📸 Creating immutable version 1...")
published_version = repo.publish_artifact_version(bsm=bsm, name=artifact_name)

rprint(published_version)
print(f"🔗 Version 1 in S3: {published_version.s3path.console_url}")

# List all versions
versions = repo.list_artifact_versions(bsm=bsm, name=artifact_name)
print(f"\n📚 All versions ({len(versions)} total):")
for version in versions:
    print(f"  - Version {version.version}: {version.update_at} ({version.sha256[:8]}...)")

# ---- In [8] ----
# Create updated binary content
content_v2 = create_binary_content("version 2.0 - enhanced features")

print(f"📦 Updated content size: {len(content_v2)} bytes")
print(f"📈 Size change: {len(content_v2) - len(content_v1)} bytes")
print(f"📋 Content preview: {content_v2[:50]}...")

# ---- In [9] ----
# Update the LATEST version
updated_artifact = repo.put_artifact(
    bsm=bsm,
    name=artifact_name,
    content=content_v2,
    content_type="application/octet-stream",
    metadata={
        "description": "Enhanced application binary with new features",
        "version": "2.0", 
        "created_by": "dev_team",
        "changes": "Added enhanced features and optimizations"
    }
)

print("🔄 LATEST version updated")
rprint(updated_artifact)

# Publish as version 2
version_2 = repo.publish_artifact_version(bsm=bsm, name=artifact_name)
print(f"📸 Published version 2")
rprint(version_2)

# ---- In [10] ----
# Create development alias pointing to LATEST
dev_alias = repo.put_alias(
    bsm=bsm,
    name=artifact_name,
    alias="development"
    # No version specified = points to LATEST
)

print("🚧 Development alias created")
rprint(dev_alias)

# Create production alias pointing to stable version 1
prod_alias = repo.put_alias(
    bsm=bsm,
    name=artifact_name,
    alias="production",
    version=1
)

print("🚀 Production alias created")
rprint(prod_alias)

# Create staging alias pointing to version 2
staging_alias = repo.put_alias(
    bsm=bsm,
    name=artifact_name,
    alias="staging", 
    version=2
)

print("🧪 Staging alias created")
rprint(staging_alias)

# ---- In [11] ----
# Current production setup
current_prod = repo.get_alias(bsm=bsm, name=artifact_name, alias="production")
print(f"🔵 Current production points to version: {current_prod.version}")

# Simulate testing version 2 in staging
staging = repo.get_alias(bsm=bsm, name=artifact_name, alias="staging")
print(f"🧪 Staging is using version: {staging.version}")

# After testing passes, promote staging to production (Blue/Green switch)
print("\n🔄 Performing Blue/Green deployment...")
new_prod = repo.put_alias(
    bsm=bsm,
    name=artifact_name,
    alias="production",
    version=2  # Switch from version 1 to version 2
)

print(f"✅ Production switched to version {new_prod.version}")
rprint(new_prod)

# Applications using the production alias now get version 2 instantly
prod_content = new_prod.get_version_content(bsm=bsm)
print(f"📦 Production content size: {len(prod_content)} bytes")
print(f"📋 Production content: {prod_content[:50]}...")

# ---- In [12] ----
# Create version 3 for canary testing
content_v3 = create_binary_content("version 3.0 - performance optimizations")

print(f"📦 Canary content size: {len(content_v3)} bytes")
print(f"📋 Content preview: {content_v3[:50]}...")

# Upload and publish version 3
repo.put_artifact(
    bsm=bsm, 
    name=artifact_name, 
    content=content_v3,
    content_type="application/octet-stream",
    metadata={
        "description": "Optimized application binary",
        "version": "3.0",
        "changes": "Performance optimizations and bug fixes"
    }
)
version_3 = repo.publish_artifact_version(bsm=bsm, name=artifact_name)

print(f"📸 Created version 3 with optimizations")
rprint(version_3)

# ---- In [13] ----
# Start canary deployment: 90% traffic to stable v2, 10% to new v3
canary_alias = repo.put_alias(
    bsm=bsm,
    name=artifact_name,
    alias="production",
    version=2,                    # Stable version (90% traffic)
    secondary_version=3,          # Canary version (10% traffic)
    secondary_version_weight=10   # 10% goes to version 3
)

print("🕊️ Canary deployment started: 10% traffic to version 3")
rprint(canary_alias)

# Simulate traffic distribution
print("\n📊 Simulating 20 requests to see traffic distribution:")
version_counts = {2: 0, 3: 0}

for i in range(1000):
    selected_uri = canary_alias.random_artifact()
    if "000002" in selected_uri:  # Version 2
        version_counts[2] += 1
    else:  # Version 3
        version_counts[3] += 1

print(f"Version 2 (stable): {version_counts[2]} requests ({version_counts[2]/1000*100:.1f}%)")
print(f"Version 3 (canary): {version_counts[3]} requests ({version_counts[3]/1000*100:.1f}%)")

# ---- In [14] ----
# Gradually increase canary traffic
print("\n📈 Increasing canary traffic to 50%...")
canary_50 = repo.put_alias(
    bsm=bsm,
    name=artifact_name,
    alias="production",
    version=2,
    secondary_version=3,
    secondary_version_weight=50  # Now 50% traffic to version 3
)

# After monitoring shows good results, complete the rollout
print("✅ Canary successful! Completing rollout...")
final_prod = repo.put_alias(
    bsm=bsm,
    name=artifact_name,
    alias="production",
    version=3  # 100% traffic to version 3
)

print(f"🚀 Production fully migrated to version {final_prod.version}")
rprint(final_prod)

# ---- In [15] ----
# Simulate an emergency: rollback production to version 2
print("🚨 Emergency detected! Rolling back to stable version...")

rollback_alias = repo.put_alias(
    bsm=bsm,
    name=artifact_name,
    alias="production",
    version=2  # Instant rollback to version 2
)

print(f"⚡ Emergency rollback completed to version {rollback_alias.version}")
rprint(rollback_alias)

# Verify rollback
current_prod = repo.get_alias(bsm=bsm, name=artifact_name, alias="production")
print(f"✅ Production verified at version {current_prod.version}")

# Check the content is correct
rollback_content = current_prod.get_version_content(bsm=bsm)
print(f"📋 Rollback content: {rollback_content[:50]}...")

# ---- In [16] ----
# List all current versions
all_versions = repo.list_artifact_versions(bsm=bsm, name=artifact_name)
print(f"📚 Total versions before cleanup: {len(all_versions)}")

for version in all_versions:
    print(f"  - Version {version.version}: {version.update_at}")

# Clean up old versions (keep last 2, delete versions older than 0 seconds for demo)
purge_time, deleted_versions = repo.purge_artifact_versions(
    bsm=bsm,
    name=artifact_name,
    keep_last_n=2,                    # Keep latest 2 versions + LATEST
    purge_older_than_secs=0           # Delete immediately for demo
)

print(f"\n🧹 Cleanup completed at {purge_time}")
print(f"🗑️  Deleted {len(deleted_versions)} old versions:")
for deleted in deleted_versions:
    print(f"  - Version {deleted.version}")

# Verify remaining versions
remaining_versions = repo.list_artifact_versions(bsm=bsm, name=artifact_name)
print(f"✅ Remaining versions: {len(remaining_versions)}")

# ---- In [17] ----
# Get production content
prod_alias = repo.get_alias(bsm=bsm, name=artifact_name, alias="production")
binary_content = prod_alias.get_version_content(bsm=bsm)

print(f"""
📊 Production Binary Stats:
  - Version: {prod_alias.version}
  - Size: {len(binary_content)} bytes
  - Content Type: application/octet-stream
  - SHA256: {prod_alias.version.sha256 if hasattr(prod_alias.version, 'sha256') else 'N/A'}
""")

# Decode and display content (since we know it's text)
try:
    decoded_content = binary_content.decode('utf-8')
    print(f"📋 Content: {decoded_content}")
except UnicodeDecodeError:
    print(f"📋 Binary content (first 50 bytes): {binary_content[:50]}")

print(f"""
✅ Tutorial completed! You've learned to:
  - Upload and version binary artifacts
  - Create immutable snapshots  
  - Use aliases for environment management
  - Perform Blue/Green deployments
  - Execute canary rollouts
  - Handle emergency rollbacks
  - Manage artifact lifecycle
""")

# Clean up mocked AWS
mock_aws.stop()
