terraform {
  required_version = ">= 1.6"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # azurerm_function_app_flex_consumption arrived in 4.21; later 4.x releases accept runtime_version "22".
      version = ">= 4.40, < 5.0"
    }
  }
}

provider "azurerm" {
  features {}
  subscription_id = var.subscription_id
  # The storage account has shared keys disabled: talk to it with Entra ID.
  storage_use_azuread = true
}
