<#
.SYNOPSIS
  Installs podvisor as a Windows service driving the Host Compute Service (computecore.dll).
.DESCRIPTION
  Registers "podvisor" to run `node bin\podvisor.js serve --backend hcs` at boot, with its
  settings in the service's environment. Run from an elevated PowerShell in the podvisor folder.
.EXAMPLE
  .\deploy\windows\install-podvisor.ps1 -NatsUrl nats://nats.example:4222 -Creds C:\podvisor\podvisor.creds
#>
param(
  [Parameter(Mandatory = $true)] [string] $NatsUrl,
  [string] $Creds = "",
  [string] $Node = $env:COMPUTERNAME.ToLower(),
  [string] $InstallDir = (Resolve-Path "$PSScriptRoot\..\..").Path,
  [string] $StateDir = "C:\ProgramData\podvisor",
  [string] $LogLevel = "info"
)
$ErrorActionPreference = "Stop"

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
  throw "Run this script from an elevated PowerShell: HCS calls need administrator rights."
}
if (-not (Get-WindowsOptionalFeature -Online -FeatureName Containers).State -eq "Enabled") {
  throw "The Windows Containers feature is not enabled (Enable-WindowsOptionalFeature -Online -FeatureName Containers)."
}
$node = (Get-Command node -ErrorAction Stop).Source
New-Item -ItemType Directory -Force -Path $StateDir | Out-Null

$binary = "`"$node`" `"$InstallDir\bin\podvisor.js`" serve --backend hcs --nats-url $NatsUrl --node $Node --state-dir `"$StateDir`" --log-level $LogLevel"
if ($Creds -ne "") { $binary += " --creds `"$Creds`"" }

if (Get-Service -Name podvisor -ErrorAction SilentlyContinue) {
  Stop-Service podvisor -ErrorAction SilentlyContinue
  sc.exe delete podvisor | Out-Null
}
New-Service -Name podvisor -BinaryPathName $binary -DisplayName "podvisor" -StartupType Automatic `
  -Description "podvisor container lifecycle service (HCS backend)" | Out-Null
sc.exe failure podvisor reset= 60 actions= restart/2000/restart/2000/restart/10000 | Out-Null
Start-Service podvisor
Write-Host "podvisor is running as a service for node '$Node' on $NatsUrl"
